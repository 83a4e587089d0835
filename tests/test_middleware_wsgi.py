"""The WSGI middleware and the logic all the middleware share (options, file
names, saving, deciding to show), on plain WSGI applications."""

import json
import logging
import os
import sys
import threading
import wsgiref.util

import pytest

import stroboscope
import stroboscope.middleware as common
from stroboscope.middleware.wsgi import ProfilerMiddleware
from webapps import checks, work

HELLO = b"hello, world\n"
HELLO_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO))), ("X-Test", "kept")]


class Body:
    """A response body that records how it was used."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.iterated = False
        self.closed = False
        self.profiled = []

    def __iter__(self):
        self.iterated = True
        for c in self.chunks:
            # Streaming happens after the app returned: nothing samples it.
            self.profiled.append(checks.profiler_running())
            yield c

    def close(self):
        self.closed = True


def hello_app(environ, start_response):
    start_response("200 OK", list(HELLO_HEADERS))
    return [HELLO]


def make_app(view):
    """A WSGI app calling view() and recording its body object."""

    def app(environ, start_response):
        view()
        start_response("200 OK", [("Content-Type", "text/plain")])
        app.body = Body([f"{view.__name__}\n".encode(), b"end\n"])
        return app.body

    app.body = None
    return app


def index_app():
    return make_app(work.index_work)


def call(app, path="/", query="", method="GET"):
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method}
    wsgiref.util.setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return seen["status"], seen["headers"], body


def allow(environ):
    return True


def refuse(environ):
    return False


@pytest.fixture
def no_profiler(monkeypatch):
    checks.forbid_profiler(monkeypatch)


def files(directory):
    return sorted(os.listdir(directory))


def assert_report(status, headers, body, *names):
    assert int(dict(headers)["Content-Length"]) == len(body)
    return checks.report_page(status, dict(headers)["Content-Type"], body, *names)


# -- nothing unless enabled ------------------------------------------------
def test_default_shows_nobody_and_starts_no_profiler(no_profiler):
    app = ProfilerMiddleware(hello_app)
    assert call(app, query="profile") == ("200 OK", HELLO_HEADERS, HELLO)


def test_refused_is_the_untouched_response(no_profiler):
    app = ProfilerMiddleware(hello_app, show_callback=refuse)
    for query in ("profile", "profile=1", "a=1&profile", ""):
        assert call(app, query=query) == call(hello_app, query=query)


def test_unwrapped_body_is_returned_as_is(no_profiler):
    inner = index_app()
    app = ProfilerMiddleware(inner, show_callback=refuse)
    environ = {"PATH_INFO": "/", "QUERY_STRING": "profile"}
    wsgiref.util.setup_testing_defaults(environ)
    assert app(environ, lambda s, h, e=None: None) is inner.body


def test_callback_that_raises_refuses(no_profiler, caplog):
    def broken(environ):
        raise KeyError("nope")

    app = ProfilerMiddleware(hello_app, show_callback=broken)
    with caplog.at_level(logging.ERROR, logger="stroboscope.middleware"):
        assert call(app, query="profile")[2] == HELLO
    assert "show callback raised" in caplog.text


def test_coroutine_callback_refuses(no_profiler, caplog):
    async def allow(environ):  # truthy coroutine: no permission
        return True

    app = ProfilerMiddleware(hello_app, show_callback=allow)
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        assert call(app, query="profile")[2] == HELLO
    assert "coroutine function" in caplog.text


def test_callback_gets_the_environ():
    seen = []

    def cb(environ):
        seen.append(environ["PATH_INFO"])
        return True

    call(ProfilerMiddleware(hello_app, show_callback=cb), path="/x", query="profile")
    assert seen == ["/x"]


@pytest.mark.parametrize("query", ["profiled", "xprofile=1", "a=profile", "PROFILE", ""])
def test_other_arguments_are_not_the_argument(no_profiler, query):
    app = ProfilerMiddleware(hello_app, show_callback=allow)
    assert call(app, query=query)[2] == HELLO


# -- the report ------------------------------------------------------------
@pytest.mark.parametrize("query", ["profile", "profile=1", "a=1&profile&b=2", "profile=0"])
def test_report(query):
    inner = index_app()
    app = ProfilerMiddleware(inner, show_callback=allow)
    status, headers, body = call(app, path="/page", query=query)
    assert_report(status, headers, body, "index_work", "/page")
    assert dict(headers)["Cache-Control"] == "no-store"
    # The app's body was discarded without being iterated, and closed.
    assert inner.body.closed and not inner.body.iterated
    checks.no_profiler_left()


def test_custom_url_argument(no_profiler):
    app = ProfilerMiddleware(hello_app, url_argument="strobe", show_callback=allow)
    assert call(app, query="profile")[2] == HELLO


def test_custom_url_argument_report():
    app = ProfilerMiddleware(index_app(), url_argument="strobe", show_callback=allow)
    assert_report(*call(app, query="strobe"), "index_work")


def test_dotted_show_callback():
    app = ProfilerMiddleware(index_app(), show_callback="webapps.work.allow_all")
    assert_report(*call(app, query="profile"), "index_work")


def test_report_leaves_out_the_query_string():
    app = ProfilerMiddleware(index_app(), show_callback=allow)
    page = call(app, path="/p", query="profile&token=s3cr3t")[2].decode()
    assert "s3cr3t" not in page


# -- the profile directory ------------------------------------------------
@pytest.mark.parametrize("renderer", ["html", "json", "text", "session"])
def test_profile_dir_saves_every_request(tmp_path, renderer):
    inner = index_app()
    app = ProfilerMiddleware(inner, profile_dir=tmp_path, renderer=renderer)
    unwrapped = call(inner, path="/api/users/42")
    for _ in range(2):
        assert call(app, path="/api/users/42") == unwrapped
    names = files(tmp_path)
    assert len(names) == 2
    ext = {"html": ".html", "json": ".json", "text": ".txt", "session": ".strobe"}[renderer]
    for name in names:
        assert name.endswith(ext) and "-GET-api.users.42-" in name
        path = tmp_path / name
        assert path.stat().st_mode & 0o777 == 0o600
        if renderer == "session":
            session = stroboscope.Session.load(str(path))
            assert session.target == "GET /api/users/42"
            assert "index_work" in session.render("text")
        else:
            text = path.read_text("utf-8")
            assert "index_work" in text
            if renderer == "json":
                json.loads(text)
            if renderer == "html":
                assert text.startswith("<!DOCTYPE html>")


def test_profile_dir_is_created(tmp_path):
    target = tmp_path / "a" / "b"
    call(ProfilerMiddleware(hello_app, profile_dir=str(target)))
    assert len(files(target)) == 1
    assert (target.stat().st_mode & 0o777) == 0o700


def test_streaming_body_passes_through(tmp_path):
    inner = index_app()
    app = ProfilerMiddleware(inner, profile_dir=tmp_path)
    environ = {"PATH_INFO": "/stream", "QUERY_STRING": ""}
    wsgiref.util.setup_testing_defaults(environ)
    result = app(environ, lambda s, h, e=None: None)
    assert result is inner.body and not result.iterated
    checks.no_profiler_left()
    assert list(result)[1] == b"end\n"
    assert result.profiled == [False, False]
    result.close()
    assert result.closed
    assert len(files(tmp_path)) == 1


def test_report_and_profile_dir_together(tmp_path):
    app = ProfilerMiddleware(index_app(), show_callback=allow, profile_dir=tmp_path, renderer="json")
    assert_report(*call(app, query="profile"), "index_work")
    (name,) = files(tmp_path)
    assert name.endswith(".json")


def test_refused_report_with_profile_dir(tmp_path):
    app = ProfilerMiddleware(hello_app, show_callback=refuse, profile_dir=tmp_path)
    assert call(app, query="profile") == call(hello_app, query="profile")
    assert len(files(tmp_path)) == 1  # profiled and saved, not shown


def test_slow_threshold(tmp_path, monkeypatch):
    checks.FakeClock(monkeypatch)
    slow = make_app(work.slow_work)
    fast = make_app(lambda: "fast")
    opts = dict(profile_dir=tmp_path, slow_threshold=0.2, filename="{path}.{ext}")
    call(ProfilerMiddleware(fast, **opts), path="/fast")
    call(ProfilerMiddleware(slow, **opts), path="/slow")
    assert files(tmp_path) == ["slow.html"]
    assert "GET /slow" in (tmp_path / "slow.html").read_text()


def test_slow_threshold_does_not_hide_an_asked_report():
    app = ProfilerMiddleware(index_app(), show_callback=allow, slow_threshold=100)
    assert_report(*call(app, query="profile"), "index_work")


# -- file names -------------------------------------------------------------
EVIL_PATHS = [
    "/../../../../etc/passwd",
    "/..",
    "/../",
    "/a/../../b",
    "/%2e%2e/%2e%2e/x",
    "/a%00b",
    "/a\x00b",
    "/" + "x" * 5000,
    "/" + "é" * 3000,
    "/q?x=1",
    "/ünïcødé/ページ/😀",
    "/a\\..\\..\\b",
    "\\..\\..\\windows",
    "/.hidden",
    "//",
    "",
    "/a b/c\td\ne",
    "/con:aux*?|<>\"'",
]


@pytest.mark.parametrize("path", EVIL_PATHS)
def test_file_names_stay_inside(tmp_path, path):
    directory = tmp_path / "profiles"
    directory.mkdir()
    app = ProfilerMiddleware(hello_app, profile_dir=directory)
    # WSGI servers give PATH_INFO as latin-1 decoded bytes.
    raw = path.encode("utf-8").decode("latin-1")
    assert call(app, path=raw)[2] == HELLO
    assert os.listdir(tmp_path) == ["profiles"]
    (name,) = files(directory)
    assert os.path.dirname(os.path.realpath(directory / name)) == os.path.realpath(directory)
    assert len(name.encode("utf-8")) <= 255
    assert not name.startswith(".")
    assert name.endswith(".html")
    assert set(name) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def test_long_template_is_cut_keeping_the_extension(tmp_path):
    app = ProfilerMiddleware(hello_app, profile_dir=tmp_path, filename="x" * 400 + "-{path}.{ext}")
    call(app, path="/" + "y" * 400)
    call(app, path="/" + "y" * 400)
    names = files(tmp_path)
    assert len(names) == 2
    for name in names:
        assert len(name.encode()) <= 255 and name.endswith(".html")


def test_names_are_unique(tmp_path):
    app = ProfilerMiddleware(hello_app, profile_dir=tmp_path, filename="{method}-{path}.{ext}")
    for _ in range(3):
        call(app, path="/same")
    assert files(tmp_path) == ["GET-same-1.html", "GET-same-2.html", "GET-same.html"]


def test_names_are_unique_across_threads(tmp_path):
    app = ProfilerMiddleware(hello_app, profile_dir=tmp_path, filename="{path}.{ext}")
    threads = [threading.Thread(target=call, args=(app, "/same")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(files(tmp_path)) == 8


def test_sanitize_path():
    assert common.sanitize_path("/api/users/42") == "api.users.42"
    assert common.sanitize_path("/") == "root"
    assert common.sanitize_path("/../..") == "root"


# -- failing to save never fails the request ----------------------------
def test_directory_that_cannot_exist(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    app = ProfilerMiddleware(hello_app, profile_dir=blocker / "sub")
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        assert call(app) == call(hello_app)
    assert "could not save" in caplog.text


def test_unwritable_directory(tmp_path, monkeypatch, caplog):
    # chmod does not stop root (CI runs as root): refuse the file's creation
    # the way the kernel would for anyone else.
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if str(path).startswith(str(tmp_path)) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(common.os, "open", refuse)
    app = ProfilerMiddleware(hello_app, profile_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        assert call(app) == call(hello_app)
    assert "could not save" in caplog.text and "Permission denied" in caplog.text
    assert files(tmp_path) == []


def test_disk_full(tmp_path, monkeypatch, caplog):
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(common, "write_atomic", full)
    app = ProfilerMiddleware(hello_app, profile_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        assert call(app) == call(hello_app)
    assert "No space left on device" in caplog.text
    assert files(tmp_path) == []  # the reserved name is given back


# -- errors --------------------------------------------------------------
def failing_app(environ, start_response):
    work.fail()


@pytest.mark.parametrize("mode", ["report", "dir"])
def test_view_that_raises(tmp_path, mode):
    opts = {"show_callback": allow} if mode == "report" else {"profile_dir": tmp_path}
    app = ProfilerMiddleware(failing_app, **opts)
    with pytest.raises(work.ViewError) as info:
        call(app, query="profile")
    assert info.value is work.LAST_ERROR[-1]
    checks.no_profiler_left()
    # The next request is profiled normally.
    good = ProfilerMiddleware(index_app(), **opts)
    status, headers, body = call(good, query="profile")
    if mode == "report":
        assert_report(status, headers, body, "index_work")
    else:
        assert len(files(tmp_path)) == 2  # the failed request is kept too
    checks.no_profiler_left()


def test_stop_that_fails_lets_the_view_error_through(monkeypatch, caplog):
    class Failing(stroboscope.Profiler):
        def stop(self):
            super().stop()
            raise RuntimeError("stop failed")

    monkeypatch.setattr(common, "Profiler", Failing)
    app = ProfilerMiddleware(failing_app, show_callback=allow)
    with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
        with pytest.raises(work.ViewError):
            call(app, query="profile")
    assert "stop failed" in caplog.text
    checks.no_profiler_left()


def error_page_app(environ, start_response):
    """Catches its own error and sends an error page, passing exc_info to
    start_response as PEP 3333 allows before anything is sent."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        work.index_work()
        work.fail()
    except work.ViewError:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"sorry\n"]


def test_error_page_with_exc_info():
    assert call(error_page_app)[0] == "500 Internal Server Error"
    app = ProfilerMiddleware(error_page_app, show_callback=allow)
    assert_report(*call(app, query="profile"), "index_work")


def lazy_app(environ, start_response):
    """Calls start_response when its body is first iterated, and uses write()."""
    work.index_work()

    def body():
        write = start_response("201 Created", [("Content-Type", "text/plain")])
        write(b"written\n")
        yield b"yielded\n"

    return body()


def writing_app(environ, start_response):
    write = start_response("202 Accepted", [("Content-Type", "text/plain")])
    write(b"written\n")
    return [b"returned\n"]


@pytest.mark.parametrize("inner", [hello_app, lazy_app, writing_app, error_page_app])
def test_report_that_cannot_be_made_gives_the_response(monkeypatch, caplog, inner):
    def broken(*args, **kwargs):
        raise RuntimeError("no report today")

    monkeypatch.setattr(stroboscope.Session, "render", broken)
    app = ProfilerMiddleware(inner, show_callback=allow)
    with caplog.at_level(logging.ERROR, logger="stroboscope.middleware"):
        assert call_writing(app, query="profile") == call_writing(inner, query="profile")
    assert "no report today" in caplog.text


def call_writing(app, **request):
    """call(), keeping what the application gives to write() too."""
    written = []

    def record(app):
        def wrapped(environ, start_response):
            def start(status, headers, exc_info=None):
                write = start_response(status, headers, exc_info)
                return lambda data: (written.append(data), write(data))

            return app(environ, start)

        return wrapped

    status, headers, body = call(record(app), **request)
    return status, headers, b"".join(written) + body


def test_report_names_the_unicode_path():
    app = ProfilerMiddleware(index_app(), show_callback=allow)
    raw = "/café/ページ".encode("utf-8").decode("latin-1")  # as a WSGI server gives it
    assert_report(*call(app, path=raw, query="profile"), "GET /café/ページ")


def test_profiles_only_the_request_thread(monkeypatch):
    made = []

    class Recorded(stroboscope.Profiler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(common, "Profiler", Recorded)
    call(ProfilerMiddleware(index_app(), show_callback=allow), query="profile")
    assert [p.all_threads for p in made] == [False]


def test_profiler_already_running_serves_unprofiled(caplog):
    app = ProfilerMiddleware(hello_app, show_callback=allow)
    with stroboscope.Profiler():
        with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
            assert call(app, query="profile")[2] == HELLO
    assert "another profiler is already sampling this thread" in caplog.text


@pytest.mark.parametrize("opts", [{"show_callback": allow}, {"profile_dir": "unused"}])
def test_under_an_all_threads_profiler(tmp_path, caplog, opts):
    opts = {k: tmp_path / v if k == "profile_dir" else v for k, v in opts.items()}
    app = ProfilerMiddleware(hello_app, **opts)
    got = checks.served_under_an_all_threads_profiler(caplog, lambda: call(app, query="profile"))
    assert got == [call(hello_app, query="profile")] * 2
    assert not (tmp_path / "unused").exists()


# -- concurrency ---------------------------------------------------------
def test_concurrent_requests_get_their_own_profile():
    apps = {
        "alpha": ProfilerMiddleware(make_app(work.alpha_work), show_callback=allow),
        "beta": ProfilerMiddleware(make_app(work.beta_work), show_callback=allow),
    }
    checks.each_gets_its_own_profile(lambda name: call(apps[name], path="/" + name, query="profile")[2].decode())


# -- options ---------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"renderer": "pdf"},
        {"interval": 0},
        {"interval": 11},
        {"interval": "fast"},
        {"slow_threshold": -1},
        {"filename": "{path}{user}.{ext}"},
        {"filename": "{path"},
        {"filename": ""},
        {"url_argument": ""},
        {"show_callback": "no_dots"},
        {"show_callback": "webapps.work.nothing_here"},
        {"show_callback": 42},
    ],
)
def test_bad_options_fail_at_start(options):
    with pytest.raises(ValueError):
        ProfilerMiddleware(hello_app, **options)


def test_options_from_config():
    config = {"STROBOSCOPE_RENDERER": "json", "STROBOSCOPE_SLOW_THRESHOLD": "0.5", "STROBOSCOPE_INTERVAL": 0.002}
    opts = common.Options.from_config(config.get)
    assert (opts.renderer, opts.slow_threshold, opts.interval, opts.url_argument) == ("json", 0.5, 0.002, "profile")
    assert opts.profile_dir is None and opts.show_callback is None
