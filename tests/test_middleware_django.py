"""The Django middleware: through Django's test client (settings configured
once for this process, varied with override_settings) and against
``manage.py runserver --noreload`` on 127.0.0.1 in a subprocess."""

import contextlib
import logging
import os
import sys
import threading

import pytest

django = pytest.importorskip("django")

import stroboscope  # noqa: E402
import stroboscope.middleware as common  # noqa: E402
from webapps import servers, work  # noqa: E402


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
    def boom(*args, **kwargs):
        raise AssertionError("a profiler was started")

    monkeypatch.setattr(common, "Profiler", boom)


def is_report(response, *names):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for name in names:
        assert name in page
    return page


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
    assert sys.getprofile() is None


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


def test_slow_threshold(dj, tmp_path):
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
        with pytest.raises(work.ViewError) as info:
            c.get("/boom?profile")
        assert info.value is work.LAST_ERROR[-1]
        assert sys.getprofile() is None
        is_report(c.get("/index?profile"), "index_work")
        assert c.get("/getprofile").content == b"None"
    assert len(os.listdir(tmp_path)) == 3  # the failed request is kept too


def test_bad_setting_fails_at_start(dj):
    with django_client(STROBOSCOPE_RENDERER="pdf") as c:
        with pytest.raises(ValueError):
            c.get("/hello")


def test_concurrent_test_clients(dj):
    from django.test import Client

    pages = {}

    def run(name):
        pages[name] = is_report(Client().get(f"/{name}?profile"))

    with django_client(DEBUG=True):
        threads = [threading.Thread(target=run, args=(n,)) for n in ("alpha", "beta")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert "alpha_work" in pages["alpha"] and "beta_work" not in pages["alpha"]
    assert "beta_work" in pages["beta"] and "alpha_work" not in pages["beta"]


# -- a real server ---------------------------------------------------------
ALLOW = {"X-Stroboscope-Test": "allow"}


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
    with servers.server(argv, env=env) as base:
        yield base, profile_dir


def comparable(response):
    headers = sorted((k, v) for k, v in response.headers if k not in ("Date", "Server"))
    return response.status, headers, response.body


@pytest.mark.full
def test_server_untouched_responses(django_server):
    from webapps.django_urls import HELLO

    base, _ = django_server
    plain = servers.get(base, "/hello")
    assert plain.status == 200 and plain.body == HELLO and plain.header("X-Test") == "kept"
    assert comparable(servers.get(base, "/hello?profile")) == comparable(plain)
    assert servers.get(base, "/stream").body == b"".join(f"chunk {i}\n".encode() for i in range(5))


@pytest.mark.full
def test_server_report_and_saved_files(django_server):
    base, profile_dir = django_server
    before = set(os.listdir(profile_dir))
    r = servers.get(base, "/index?profile", headers=ALLOW)
    assert r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8"
    page = r.body.decode()
    assert page.startswith("<!DOCTYPE html>") and "index_work" in page
    new = set(os.listdir(profile_dir)) - before
    assert len(new) == 1 and "-GET-index-" in new.pop()


@pytest.mark.full
def test_server_error_then_normal(django_server):
    base, _ = django_server
    assert servers.get(base, "/boom").status == 500
    assert servers.get(base, "/getprofile").body == b"None"
    assert "index_work" in servers.get(base, "/index?profile", headers=ALLOW).body.decode()


@pytest.mark.full
def test_server_concurrent_requests(django_server):
    base, _ = django_server
    pages = {}

    def run(name):
        pages[name] = servers.get(base, f"/{name}?profile", headers=ALLOW).body.decode()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "alpha_work" in pages["alpha"] and "beta_work" not in pages["alpha"]
    assert "beta_work" in pages["beta"] and "alpha_work" not in pages["beta"]
