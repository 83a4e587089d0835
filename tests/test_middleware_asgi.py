"""The ASGI middleware: called in process on a plain ASGI application (an
event loop of the test's own), and against uvicorn on 127.0.0.1 in a
subprocess, serving that application and the test Django project."""

import asyncio
import logging
import os
import sys
import threading
import time
import uuid

import pytest

uvicorn = pytest.importorskip("uvicorn")

import stroboscope  # noqa: E402
import stroboscope.middleware as common  # noqa: E402
from stroboscope.middleware.asgi import ProfilerMiddleware  # noqa: E402
from webapps import asgi_app, checks, servers, work  # noqa: E402
from webapps.asgi_app import HELLO, plain_app  # noqa: E402


def allow(scope):
    return True


def refuse(scope):
    return False


@pytest.fixture
def no_profiler(monkeypatch):
    checks.forbid_profiler(monkeypatch)


def http_scope(path, query="", headers=()):
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def request(app, path="/", query="", headers=(), on_send=None):
    """Calls ``app`` with one GET request; the messages it sent."""
    sent = []
    asked = []

    async def receive():
        if not asked:
            asked.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # the client never leaves

    async def send(message):
        sent.append(message)
        if on_send is not None:
            on_send(message)

    await app(http_scope(path, query, headers), receive, send)
    return sent


def call(app, path="/", query="", **kwargs):
    return asyncio.run(request(app, path, query, **kwargs))


def response(messages):
    """(status, headers as a dict of str, body) of a complete response."""
    start, *bodies = messages
    assert start["type"] == "http.response.start"
    assert all(m["type"] == "http.response.body" for m in bodies)
    assert not bodies[-1].get("more_body", False)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in bodies)


def is_report(messages, *names):
    status, headers, body = response(messages)
    assert int(headers["content-length"]) == len(body)
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    return checks.report_page(status, headers["content-type"], body, *names)


def files(directory):
    return sorted(os.listdir(directory))


def saved_page(directory, name_part):
    """The one saved HTML report whose name holds ``name_part``."""
    (name,) = [n for n in files(directory) if name_part in n]
    with open(os.path.join(directory, name), encoding="utf-8") as f:
        return f.read()


# -- nothing unless enabled ------------------------------------------------
def test_default_shows_nobody_and_starts_no_profiler(no_profiler):
    assert call(ProfilerMiddleware(plain_app), "/hello", "profile") == call(plain_app, "/hello", "profile")


@pytest.mark.parametrize("query", ["profile", "profile=1", "a=1&profile", "", "profiled", "xprofile=1"])
def test_refused_is_the_untouched_response(no_profiler, query):
    app = ProfilerMiddleware(plain_app, show_callback=refuse)
    got = call(app, "/hello", query)
    assert got == call(plain_app, "/hello", query)
    assert response(got)[2] == HELLO


def test_callback_gets_the_scope():
    seen = []

    def cb(scope):
        seen.append((scope["type"], scope["path"], scope["query_string"]))
        return True

    is_report(call(ProfilerMiddleware(plain_app, show_callback=cb), "/index", "profile"), "index_work")
    assert seen == [("http", "/index", b"profile")]


def test_async_callback_is_awaited():
    async def cb(scope):
        await asyncio.sleep(0)
        return scope["path"] == "/index"

    app = ProfilerMiddleware(plain_app, show_callback=cb)
    is_report(call(app, "/index", "profile"), "index_work")
    assert response(call(app, "/hello", "profile"))[2] == HELLO  # an awaited False refuses


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_callback_that_raises_refuses(no_profiler, caplog, kind):
    def broken(scope):
        raise KeyError("nope")

    async def broken_async(scope):
        raise KeyError("nope")

    app = ProfilerMiddleware(plain_app, show_callback=broken if kind == "sync" else broken_async)
    with caplog.at_level(logging.ERROR, logger="stroboscope.middleware"):
        assert response(call(app, "/hello", "profile"))[2] == HELLO
    assert "show callback raised" in caplog.text


def test_dotted_show_callback():
    app = ProfilerMiddleware(plain_app, show_callback="webapps.asgi_app.allow_header")
    assert response(call(app, "/index", "profile"))[2].startswith(b"index ")
    is_report(call(app, "/index", "profile", headers=[("X-Stroboscope-Test", "allow")]), "index_work")


# -- what passes through untouched ------------------------------------------
async def lifespan_run(app):
    """Runs the lifespan protocol through ``app``: what it sent."""
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


def test_lifespan_passes_through(no_profiler, tmp_path):
    del asgi_app.LIFESPAN[:]
    app = ProfilerMiddleware(plain_app, show_callback=allow, profile_dir=tmp_path)
    assert asyncio.run(lifespan_run(app)) == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert asgi_app.LIFESPAN == ["lifespan.startup", "lifespan.shutdown"]
    assert files(tmp_path) == []


def test_websocket_passes_through(no_profiler, tmp_path):
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"}]
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    scope = dict(http_scope("/ws", "profile"), type="websocket")
    app = ProfilerMiddleware(plain_app, show_callback=allow, profile_dir=tmp_path)
    asyncio.run(app(scope, receive, send))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "echo hi"
    assert files(tmp_path) == []


def test_messages_are_passed_on_as_sent(tmp_path):
    """Profiled without a report, a streaming response streams: each
    message reaches the server before the application sends the next, as
    the same object."""
    log = []
    app_sent = []

    async def streaming_app(scope, receive, send):
        for i in range(3):
            message = {"type": "http.response.body", "body": b"%d" % i, "more_body": i < 2}
            if i == 0:
                await send({"type": "http.response.start", "status": 200, "headers": []})
            log.append(("app", i))
            app_sent.append(message)
            await send(message)
            if i == 1:
                work.index_work()

    def on_send(message):
        if message["type"] == "http.response.body":
            log.append(("server", int(message["body"])))

    app = ProfilerMiddleware(streaming_app, show_callback=refuse, profile_dir=tmp_path)
    sent = call(app, "/stream", "profile", on_send=on_send)
    assert log == [("app", 0), ("server", 0), ("app", 1), ("server", 1), ("app", 2), ("server", 2)]
    assert all(a is b for a, b in zip(sent[1:], app_sent))
    checks.no_profiler_left()
    # The body was sent while profiled: the work between its messages is in.
    assert "index_work" in saved_page(tmp_path, "-GET-stream-")


def test_streaming_response_through_the_middleware(tmp_path):
    app = ProfilerMiddleware(plain_app, profile_dir=tmp_path)
    assert call(app, "/stream") == call(plain_app, "/stream")
    assert response(call(app, "/stream"))[2] == "".join(work.chunks("/stream")).encode()
    assert len(files(tmp_path)) == 2


# -- the report ------------------------------------------------------------
@pytest.mark.parametrize("query", ["profile", "profile=1", "a=1&profile&b=2", "profile=0"])
def test_report(query):
    is_report(call(ProfilerMiddleware(plain_app, show_callback=allow), "/index", query), "index_work", "GET /index")
    checks.no_profiler_left()


def test_report_replaces_a_streaming_response():
    messages = call(ProfilerMiddleware(plain_app, show_callback=allow), "/stream", "profile")
    assert len(messages) == 2  # one start, one body: the stream's messages were dropped
    page = is_report(messages, "GET /stream")
    assert "chunk 0" not in page


def test_custom_url_argument(no_profiler):
    app = ProfilerMiddleware(plain_app, url_argument="strobe", show_callback=allow)
    assert response(call(app, "/hello", "profile"))[2] == HELLO


def test_custom_url_argument_report():
    app = ProfilerMiddleware(plain_app, url_argument="strobe", show_callback=allow)
    is_report(call(app, "/index", "strobe"), "index_work")


def test_report_leaves_out_the_query_string():
    page = is_report(call(ProfilerMiddleware(plain_app, show_callback=allow), "/index", "profile&token=s3cr3t"))
    assert "s3cr3t" not in page


def test_report_names_the_unicode_path():
    # ASGI gives the path decoded, as a str.
    app = ProfilerMiddleware(plain_app, show_callback=allow)
    is_report(call(app, "/café/ページ", "profile"), "GET /café/ページ")


def test_report_that_cannot_be_made_gives_the_response(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no report today")

    monkeypatch.setattr(stroboscope.Session, "render", broken)
    app = ProfilerMiddleware(plain_app, show_callback=allow)
    with caplog.at_level(logging.ERROR, logger="stroboscope.middleware"):
        for path in ("/hello", "/stream"):
            assert call(app, path, "profile") == call(plain_app, path, "profile")
    assert "no report today" in caplog.text
    checks.no_profiler_left()


# -- the profile directory ------------------------------------------------
@pytest.mark.parametrize("renderer", ["html", "json", "text", "session"])
def test_profile_dir_saves_every_request(tmp_path, renderer):
    app = ProfilerMiddleware(plain_app, profile_dir=tmp_path, renderer=renderer)
    for _ in range(2):
        assert call(app, "/index")[0]["status"] == 200
    names = files(tmp_path)
    assert len(names) == 2
    ext = {"html": ".html", "json": ".json", "text": ".txt", "session": ".strobe"}[renderer]
    for name in names:
        assert name.endswith(ext) and "-GET-index-" in name
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
        if renderer == "session":
            session = stroboscope.Session.load(str(tmp_path / name))
            assert session.target == "GET /index"
            assert "index_work" in session.render("text")
        else:
            assert "index_work" in (tmp_path / name).read_text("utf-8")


def test_saving_is_done_off_the_event_loop(tmp_path, monkeypatch):
    where = []
    real_save = common.Options.save

    def save(self, *args, **kwargs):
        where.append(threading.current_thread())
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(common.Options, "save", save)
    call(ProfilerMiddleware(plain_app, profile_dir=tmp_path), "/hello")
    assert len(where) == 1 and where[0] is not threading.current_thread()
    assert len(files(tmp_path)) == 1


def test_refused_report_with_profile_dir(tmp_path):
    app = ProfilerMiddleware(plain_app, show_callback=refuse, profile_dir=tmp_path)
    assert call(app, "/hello", "profile") == call(plain_app, "/hello", "profile")
    assert len(files(tmp_path)) == 1  # profiled and saved, not shown


def test_slow_threshold(tmp_path, monkeypatch):
    clock = checks.FakeClock(monkeypatch)

    async def slow_app(scope, receive, send):
        if scope["path"] == "/slow":
            clock.slow_work()
        await asgi_app.respond(send, b"ok\n")

    app = ProfilerMiddleware(slow_app, profile_dir=tmp_path, slow_threshold=0.2, filename="{path}.{ext}")
    call(app, "/fast")
    call(app, "/slow")
    assert files(tmp_path) == ["slow.html"]


def test_unsaveable_dir_does_not_fail(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    app = ProfilerMiddleware(plain_app, profile_dir=blocker / "sub")
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        assert call(app, "/hello") == call(plain_app, "/hello")
    assert "could not save" in caplog.text


# -- errors ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["report", "dir"])
def test_app_that_raises(tmp_path, mode):
    opts = {"show_callback": allow} if mode == "report" else {"profile_dir": tmp_path}
    app = ProfilerMiddleware(plain_app, **opts)
    with pytest.raises(work.ViewError) as info:
        call(app, "/boom", "profile")
    assert info.value is work.LAST_ERROR[-1]
    checks.no_profiler_left()
    messages = call(app, "/index", "profile")  # the next request is profiled as usual
    if mode == "report":
        is_report(messages, "index_work")
    else:
        assert len(files(tmp_path)) == 2  # the failed request is kept too
    checks.no_profiler_left()


def test_stop_that_fails_lets_the_app_error_through(monkeypatch, caplog):
    class Failing(stroboscope.Profiler):
        def stop(self):
            super().stop()
            raise RuntimeError("stop failed")

    monkeypatch.setattr(common, "Profiler", Failing)
    app = ProfilerMiddleware(plain_app, show_callback=allow)
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        with pytest.raises(work.ViewError):
            call(app, "/boom", "profile")
        # No session, so no report: the response as it was.
        assert call(app, "/hello", "profile") == call(plain_app, "/hello", "profile")
    assert "stop failed" in caplog.text
    checks.no_profiler_left()


def test_cancelled_request_stops_the_profiler(tmp_path):
    """A request task cancelled in an await (the server shutting down) ends
    its profile in that task and is saved."""

    async def waiting_app(scope, receive, send):
        await asyncio.sleep(3600)

    async def main():
        task = asyncio.ensure_future(request(ProfilerMiddleware(waiting_app, profile_dir=tmp_path), "/wait"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    checks.no_profiler_left()
    assert len(files(tmp_path)) == 1


# -- one task, one profile -------------------------------------------------
def test_profiles_the_request_task(monkeypatch, tmp_path):
    """The profiler is started and stopped in the task that runs the
    request (the contract that scopes a profile to one task)."""
    seen = []

    class Recorded(stroboscope.Profiler):
        def start(self, **kwargs):
            seen.append(("start", asyncio.current_task(), self.all_threads))
            super().start(**kwargs)

        def stop(self):
            seen.append(("stop", asyncio.current_task(), self.all_threads))
            return super().stop()

    monkeypatch.setattr(common, "Profiler", Recorded)

    async def main():
        task = asyncio.ensure_future(request(ProfilerMiddleware(plain_app, profile_dir=tmp_path), "/hello"))
        await task
        return task

    task = asyncio.run(main())
    assert seen == [("start", task, False), ("stop", task, False)]


def test_concurrent_requests_get_their_own_profiles(tmp_path):
    """Four requests at once on one event loop (each view runs slices of CPU
    work between awaits, so they interleave on the one thread): each saved
    profile holds its own view and none of the others'."""
    app = ProfilerMiddleware(plain_app, profile_dir=tmp_path)
    group = uuid.uuid4().hex
    query = f"group={group}&expected={len(work.COLORS)}"

    async def main():
        return await asyncio.gather(*(request(app, "/" + color, query) for color in work.COLORS))

    for color, messages in zip(work.COLORS, asyncio.run(main())):
        assert response(messages)[2].startswith(color.encode())
    checks.no_profiler_left()
    checks.own_work_only({color: saved_page(tmp_path, f"-GET-{color}-") for color in work.COLORS})


def test_concurrent_reports(tmp_path):
    app = ProfilerMiddleware(plain_app, show_callback=allow)
    group = uuid.uuid4().hex
    query = f"profile&group={group}&expected={len(work.COLORS)}"

    async def main():
        return await asyncio.gather(*(request(app, "/" + color, query) for color in work.COLORS))

    pages = {color: is_report(messages) for color, messages in zip(work.COLORS, asyncio.run(main()))}
    checks.own_work_only(pages)


def test_time_in_an_await_is_shown_as_await(tmp_path):
    async def sleepy_app(scope, receive, send):
        await asyncio.sleep(0.2)
        await asgi_app.respond(send, b"ok\n")

    page = is_report(call(ProfilerMiddleware(sleepy_app, show_callback=allow), "/sleepy", "profile"), "sleepy_app")
    assert "[await]" in page


def test_not_in_an_asyncio_task_serves_unprofiled(no_profiler, caplog):
    """Outside an asyncio task (an ASGI server on trio) a profile would hold
    every concurrent request: the request is served unprofiled, said once."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    app = ProfilerMiddleware(plain_app, show_callback=allow)
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        for _ in range(2):
            # Driven by hand, as another event loop would: no asyncio task runs.
            coro = app(http_scope("/hello", "profile"), receive, send)
            with pytest.raises(StopIteration):
                coro.send(None)
    assert response(sent[:2])[2] == HELLO and len(sent) == 4
    said = [r.getMessage() for r in caplog.records if r.name == "stroboscope.middleware"]
    assert len(said) == 1 and "asyncio task" in said[0]


@pytest.mark.parametrize("opts", [{"show_callback": allow}, {"profile_dir": "unused"}])
def test_under_an_all_threads_profiler(tmp_path, caplog, opts):
    opts = {k: tmp_path / v if k == "profile_dir" else v for k, v in opts.items()}
    app = ProfilerMiddleware(plain_app, **opts)
    got = checks.served_under_an_all_threads_profiler(caplog, lambda: call(app, "/hello", "profile"))
    assert got == [call(plain_app, "/hello", "profile")] * 2
    assert not (tmp_path / "unused").exists()


# -- options ---------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"renderer": "pdf"},
        {"interval": 0},
        {"slow_threshold": -1},
        {"filename": "{path}{user}.{ext}"},
        {"url_argument": ""},
        {"show_callback": "webapps.work.nothing_here"},
        {"show_callback": 42},
    ],
)
def test_bad_options_fail_at_start(options):
    with pytest.raises(ValueError):
        ProfilerMiddleware(plain_app, **options)


def test_interval(tmp_path):
    call(ProfilerMiddleware(plain_app, profile_dir=tmp_path, renderer="session", interval=0.01), "/index")
    (name,) = files(tmp_path)
    assert stroboscope.Session.load(str(tmp_path / name)).interval == pytest.approx(0.01)


# -- uvicorn -----------------------------------------------------------------
def uvicorn_argv(app):
    return lambda port: [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", f"--port={port}",
        "--loop", "asyncio", "--http", "h11", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def concurrent_gets(base, paths, headers=None):
    """GETs every path at once, each from a thread of its own; the responses."""
    got = checks.concurrently(lambda path: servers.get(base, path, headers=headers), paths)
    return [got[path] for path in paths]


def check_concurrent_profiles(srv, prefix=""):
    """Four requests at once: red and green ask for their report, blue and
    gold do not; every one is saved, and every profile holds its own work
    only."""
    before = set(files(srv.profile_dir))
    query = f"group={uuid.uuid4().hex}&expected={len(work.COLORS)}"
    paths = [f"{prefix}/{color}?{query}" + ("&profile" if color in ("red", "green") else "") for color in work.COLORS]
    got = concurrent_gets(srv.base, paths, headers=servers.ALLOW)
    pages = {}
    for color, r in zip(work.COLORS, got):
        if color in ("red", "green"):
            pages[color] = checks.report_page(r.status, r.header("Content-Type"), r.body, f"GET {prefix}/{color}")
        else:
            assert r.status == 200 and r.body.startswith(color.encode())
    checks.own_work_only(pages)
    path_field = common.sanitize_path(prefix) + "." if prefix else ""
    names = {color: f"-GET-{path_field}{color}-" for color in work.COLORS}
    # A request that sends its own response is saved just after it (its
    # name is taken first, empty, then the file is written).
    deadline = time.monotonic() + 30
    while True:
        new = set(files(srv.profile_dir)) - before
        found = {color: [n for n in new if part in n] for color, part in names.items()}
        written = all(len(n) == 1 and os.path.getsize(os.path.join(srv.profile_dir, n[0])) for n in found.values())
        if written or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    saved = {}
    for color, (name,) in found.items():
        with open(os.path.join(srv.profile_dir, name), encoding="utf-8") as f:
            saved[color] = f.read()
    checks.own_work_only(saved)


@pytest.fixture(scope="module")
def asgi_server(tmp_path_factory):
    profile_dir = tmp_path_factory.mktemp("asgi-profiles")
    env = {"STROBO_TEST_PROFILE_DIR": str(profile_dir)}
    with servers.server(uvicorn_argv("webapps.asgi_app:app"), env=env) as base:
        yield servers.Running(base, str(profile_dir), HELLO)


@pytest.mark.full
def test_server_untouched_responses(asgi_server):
    servers.check_untouched_responses(asgi_server)


@pytest.mark.full
def test_server_report_and_saved_file(asgi_server):
    servers.check_report_and_saved_file(asgi_server)


@pytest.mark.full
def test_server_error_then_normal(asgi_server):
    servers.check_error_then_normal(asgi_server)


@pytest.mark.full
def test_server_lifespan_passes_through(asgi_server):
    r = servers.get(asgi_server.base, "/lifespan")
    assert r.status == 200 and r.body == b"lifespan.startup"


@pytest.mark.full
def test_server_concurrent_requests(asgi_server):
    check_concurrent_profiles(asgi_server)


@pytest.fixture(scope="module")
def django_asgi_server(tmp_path_factory):
    pytest.importorskip("django")
    profile_dir = tmp_path_factory.mktemp("django-asgi-profiles")
    env = {
        "STROBO_TEST_PROFILE_DIR": str(profile_dir),
        "STROBO_TEST_SHOW_CALLBACK": "webapps.django_urls.allow_header",
        "DJANGO_SETTINGS_MODULE": "webapps.django_settings",
    }
    argv = uvicorn_argv("webapps.django_asgi:application")
    with servers.server(lambda port: argv(port) + ["--lifespan", "off"], env=env) as base:
        yield servers.Running(base, str(profile_dir), b"hello from django\n")


@pytest.mark.full
def test_django_server_untouched_responses(django_asgi_server):
    servers.check_untouched_responses(django_asgi_server)


@pytest.mark.full
def test_django_server_async_views(django_asgi_server):
    check_concurrent_profiles(django_asgi_server, prefix="/async")


@pytest.mark.full
def test_django_server_error_then_normal(django_asgi_server):
    assert servers.get(django_asgi_server.base, "/async/boom").status == 500
    r = servers.get(django_asgi_server.base, "/async/red?profile", headers=servers.ALLOW)
    checks.report_page(r.status, r.header("Content-Type"), r.body, "red_work", "GET /async/red")
