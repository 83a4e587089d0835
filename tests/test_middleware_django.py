"""The Django middleware: through Django's test client (settings configured
once for this process, varied with override_settings) and against
``manage.py runserver --noreload`` on 127.0.0.1 in a subprocess."""

import asyncio
import contextlib
import logging
import os
import sys
import threading
import uuid

import pytest

django = pytest.importorskip("django")

import stroboscope  # noqa: E402
from webapps import checks, servers, work  # noqa: E402


@pytest.fixture(scope="module")
def dj():
    """Django, configured once per process with the test project's settings."""
    from django.conf import settings

    if not settings.configured:
        from webapps import django_settings

        values = django_settings.as_dict()
        values.update(DEBUG=False, STROBOSCOPE_SHOW_CALLBACK=None, STROBOSCOPE_PROFILE_DIR=None)
        settings.configure(**values)
        django.setup()
    elif settings.ROOT_URLCONF != "webapps.django_urls":
        pytest.skip("Django was configured for another project in this process")
    from webapps import django_urls

    return django_urls


@contextlib.contextmanager
def django_client(**overrides):
    """A test client whose middleware is built with these settings (Django
    builds it at the client's first request)."""
    from django.test import Client
    from django.test.utils import override_settings

    with override_settings(**overrides):
        yield Client()


@pytest.fixture
def no_profiler(monkeypatch):
    checks.forbid_profiler(monkeypatch)


def is_report(response, *names):
    return checks.report_page(response.status_code, response["Content-Type"], response.content, *names)


def snapshot(response):
    body = b"".join(response) if response.streaming else response.content
    return response.status_code, sorted(response.items()), body


def unprofiled(path):
    """The response without stroboscope's middleware."""
    with django_client(MIDDLEWARE=["django.middleware.common.CommonMiddleware"]) as c:
        return snapshot(c.get(path))


# -- test client -----------------------------------------------------------
def test_debug_off_shows_nobody(dj, no_profiler):
    with django_client(DEBUG=False) as c:
        got = c.get("/hello?profile")
    assert got.content == dj.HELLO and got["X-Test"] == "kept"
    assert snapshot(got) == unprofiled("/hello?profile")


def test_debug_on_shows_the_report(dj):
    with django_client(DEBUG=True) as c:
        is_report(c.get("/index?profile"), "index_work", "GET /index")
    checks.no_profiler_left()


def test_show_callback_dotted_path(dj):
    with django_client(DEBUG=True, STROBOSCOPE_SHOW_CALLBACK="webapps.django_urls.allow_header") as c:
        assert c.get("/hello?profile").content == dj.HELLO  # refused, whatever DEBUG says
        is_report(c.get("/index?profile", HTTP_X_STROBOSCOPE_TEST="allow"), "index_work")


def test_show_callback_callable(dj):
    seen = []

    def cb(request):
        seen.append(request.path)
        return True

    with django_client(STROBOSCOPE_SHOW_CALLBACK=cb) as c:
        is_report(c.get("/index?profile"), "index_work")
    assert seen == ["/index"]


def test_url_argument(dj):
    with django_client(DEBUG=True, STROBOSCOPE_URL_ARGUMENT="strobe") as c:
        assert c.get("/hello?profile").content == dj.HELLO
        is_report(c.get("/index?strobe"), "index_work")


@pytest.mark.parametrize("renderer", ["html", "json", "text", "session"])
def test_profile_dir(dj, tmp_path, renderer):
    with django_client(STROBOSCOPE_PROFILE_DIR=str(tmp_path), STROBOSCOPE_RENDERER=renderer) as c:
        for path in ("/hello", "/stream"):
            assert snapshot(c.get(path)) == unprofiled(path)
        c.get("/index")
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 3
    ext = {"html": ".html", "json": ".json", "text": ".txt", "session": ".strobe"}[renderer]
    assert all(n.endswith(ext) for n in names)
    (index,) = [n for n in names if "-GET-index-" in n]
    if renderer == "session":
        assert "index_work" in stroboscope.Session.load(str(tmp_path / index)).render("text")
    else:
        assert "index_work" in (tmp_path / index).read_text("utf-8")


def test_filename_template(dj, tmp_path):
    with django_client(STROBOSCOPE_PROFILE_DIR=str(tmp_path), STROBOSCOPE_FILENAME="{method}_{path}.{ext}") as c:
        c.get("/index")
        c.get("/index")
    assert sorted(os.listdir(tmp_path)) == ["GET_index-1.html", "GET_index.html"]


def test_refused_report_with_profile_dir(dj, tmp_path):
    with django_client(DEBUG=False, STROBOSCOPE_PROFILE_DIR=str(tmp_path)) as c:
        assert snapshot(c.get("/hello?profile")) == unprofiled("/hello?profile")
    assert len(os.listdir(tmp_path)) == 1  # profiled and saved, not shown


def test_slow_threshold(dj, tmp_path, monkeypatch):
    checks.FakeClock(monkeypatch)
    opts = dict(STROBOSCOPE_PROFILE_DIR=str(tmp_path), STROBOSCOPE_SLOW_THRESHOLD=0.2)
    with django_client(**opts, STROBOSCOPE_FILENAME="{path}.{ext}") as c:
        c.get("/hello")
        c.get("/slow")
    assert os.listdir(tmp_path) == ["slow.html"]


def test_interval(dj, tmp_path):
    opts = dict(STROBOSCOPE_PROFILE_DIR=str(tmp_path), STROBOSCOPE_RENDERER="session")
    with django_client(**opts, STROBOSCOPE_INTERVAL=0.01) as c:
        c.get("/index")
    (name,) = os.listdir(tmp_path)
    assert stroboscope.Session.load(str(tmp_path / name)).interval == pytest.approx(0.01)


def test_unsaveable_dir_does_not_fail(dj, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with django_client(STROBOSCOPE_PROFILE_DIR=str(blocker / "sub")) as c:
        with caplog.at_level(logging.WARNING, logger="stroboscope.middleware"):
            assert c.get("/hello").content == dj.HELLO
    assert "could not save" in caplog.text


def test_view_that_raises(dj, tmp_path):
    with django_client(DEBUG=True, STROBOSCOPE_PROFILE_DIR=str(tmp_path)) as c:
        checks.view_that_raises(lambda path: is_report(c.get(path)), tmp_path)


def test_bad_setting_fails_at_start(dj):
    with django_client(STROBOSCOPE_RENDERER="pdf") as c:
        with pytest.raises(ValueError):
            c.get("/hello")


def test_report_that_cannot_be_made_gives_the_response(dj, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no report today")

    monkeypatch.setattr(stroboscope.Session, "render", broken)
    with django_client(DEBUG=True) as c:
        with caplog.at_level(logging.ERROR, logger="stroboscope.middleware"):
            assert snapshot(c.get("/hello?profile")) == unprofiled("/hello?profile")
    assert "no report today" in caplog.text


def test_under_an_all_threads_profiler(dj, caplog):
    with django_client(DEBUG=True) as c:
        got = checks.served_under_an_all_threads_profiler(caplog, lambda: c.get("/hello?profile"))
    assert [snapshot(r) for r in got] == [unprofiled("/hello?profile")] * 2


def test_concurrent_test_clients(dj):
    from django.test import Client

    with django_client(DEBUG=True):
        checks.each_gets_its_own_profile(lambda name: is_report(Client().get(f"/{name}?profile")))


# -- async (ASGI) mode, through the async test client -------------------------
@contextlib.contextmanager
def async_client(**overrides):
    """An async test client: Django builds the middleware chain in async
    mode, as under an ASGI server."""
    from django.test import AsyncClient
    from django.test.utils import override_settings

    with override_settings(**overrides):
        yield AsyncClient()


def test_async_capable(dj):
    from asgiref.sync import iscoroutinefunction

    from stroboscope.middleware.django import ProfilerMiddleware

    async def get_response(request):
        return None

    assert ProfilerMiddleware.sync_capable and ProfilerMiddleware.async_capable
    assert iscoroutinefunction(ProfilerMiddleware(get_response))
    assert not iscoroutinefunction(ProfilerMiddleware(lambda request: None))


def test_async_debug_off_shows_nobody(dj, no_profiler):
    with async_client(DEBUG=False) as c:
        got = asyncio.run(c.get("/hello?profile"))
    assert got.content == dj.HELLO and got["X-Test"] == "kept"


def test_async_debug_on_shows_the_report(dj):
    with async_client(DEBUG=True) as c:
        is_report(asyncio.run(c.get("/async/red?profile")), "red_work", "GET /async/red")
    checks.no_profiler_left()


def test_async_report_of_a_sync_view(dj):
    # Django runs it on a worker thread: the report shows the request, and
    # the view's time as [await] only (see the middleware's docstring).
    with async_client(DEBUG=True) as c:
        is_report(asyncio.run(c.get("/index?profile")), "GET /index")
    checks.no_profiler_left()


def test_async_show_callback_runs_where_sync_code_runs(dj):
    seen = []

    def cb(request):
        try:
            asyncio.get_running_loop()
            seen.append("in the event loop")
        except RuntimeError:
            seen.append(threading.current_thread() is not threading.main_thread() or "main thread")
        return True

    with async_client(STROBOSCOPE_SHOW_CALLBACK=cb) as c:
        is_report(asyncio.run(c.get("/async/red?profile")), "red_work")
    assert seen == [True]


def test_async_show_callback_coroutine(dj):
    async def cb(request):
        await asyncio.sleep(0)
        return request.path == "/async/red"

    with async_client(STROBOSCOPE_SHOW_CALLBACK=cb) as c:
        is_report(asyncio.run(c.get("/async/red?profile")), "red_work")
        assert asyncio.run(c.get("/hello?profile")).content == dj.HELLO


def test_async_profile_dir(dj, tmp_path):
    with async_client(STROBOSCOPE_PROFILE_DIR=str(tmp_path), STROBOSCOPE_FILENAME="{path}.{ext}") as c:
        assert asyncio.run(c.get("/async/red")).content.startswith(b"red ")
        assert asyncio.run(c.get("/hello?profile")).content == dj.HELLO
    assert sorted(os.listdir(tmp_path)) == ["async.red.html", "hello.html"]
    assert "red_work" in (tmp_path / "async.red.html").read_text("utf-8")


def test_async_view_that_raises(dj, tmp_path):
    with async_client(DEBUG=True, STROBOSCOPE_PROFILE_DIR=str(tmp_path)) as c:
        with pytest.raises(work.ViewError) as info:
            asyncio.run(c.get("/async/boom?profile"))
        assert info.value is work.LAST_ERROR[-1]
        checks.no_profiler_left()
        is_report(asyncio.run(c.get("/async/red?profile")), "red_work")
    assert len(os.listdir(tmp_path)) == 2  # the failed request is kept too


def test_async_under_an_all_threads_profiler(dj, caplog):
    with async_client(DEBUG=True) as c:
        got = checks.served_under_an_all_threads_profiler(caplog, lambda: asyncio.run(c.get("/hello?profile")))
    assert [r.content for r in got] == [dj.HELLO] * 2


def test_async_concurrent_requests(dj):
    """Four requests at once on one event loop: each report holds its own
    view's work only."""
    query = f"profile&group={uuid.uuid4().hex}&expected={len(work.COLORS)}"

    async def main(c):
        return await asyncio.gather(*(c.get(f"/async/{color}?{query}") for color in work.COLORS))

    with async_client(DEBUG=True) as c:
        got = asyncio.run(main(c))
    checks.own_work_only({color: is_report(r, f"GET /async/{color}") for color, r in zip(work.COLORS, got)})
    checks.no_profiler_left()


# -- a real server ---------------------------------------------------------
@pytest.fixture(scope="module")
def django_server(tmp_path_factory):
    profile_dir = tmp_path_factory.mktemp("django-profiles")
    argv = lambda port: [  # noqa: E731
        sys.executable, "-m", "django", "runserver", "--noreload", "--settings=webapps.django_settings",
        f"127.0.0.1:{port}",
    ]  # fmt: skip
    env = {
        "STROBO_TEST_PROFILE_DIR": str(profile_dir),
        "STROBO_TEST_SHOW_CALLBACK": "webapps.django_urls.allow_header",
        "DJANGO_SETTINGS_MODULE": "webapps.django_settings",
    }
    from webapps.django_urls import HELLO

    with servers.server(argv, env=env) as base:
        yield servers.Running(base, str(profile_dir), HELLO)


@pytest.mark.full
def test_server_untouched_responses(django_server):
    servers.check_untouched_responses(django_server)


@pytest.mark.full
def test_server_report_and_saved_file(django_server):
    servers.check_report_and_saved_file(django_server)


@pytest.mark.full
def test_server_error_then_normal(django_server):
    servers.check_error_then_normal(django_server)


@pytest.mark.full
def test_server_concurrent_requests(django_server):
    servers.check_concurrent_requests(django_server)
