"""The Flask extension: through Flask's test client and against Flask's
threaded development server on 127.0.0.1."""

import os
import sys
import threading

import pytest

flask = pytest.importorskip("flask")

import stroboscope.middleware as common  # noqa: E402
from stroboscope.middleware.flask import Profiler  # noqa: E402
from webapps import servers, work  # noqa: E402
from webapps.flask_app import HELLO, create_app  # noqa: E402


@pytest.fixture
def no_profiler(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a profiler was started")

    monkeypatch.setattr(common, "Profiler", boom)


def is_report(response, *names):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert page.startswith("<!DOCTYPE html>")
    for name in names:
        assert name in page
    return page


def snapshot(response):
    return response.status, sorted(response.headers.items()), response.get_data()


# -- test client -----------------------------------------------------------
def test_not_debug_shows_nobody(no_profiler):
    app = create_app()
    assert not app.debug
    plain = create_app(profiler=False)
    got = app.test_client().get("/hello?profile")
    assert snapshot(got) == snapshot(plain.test_client().get("/hello?profile"))
    assert got.get_data() == HELLO and got.headers["X-Test"] == "kept"


def test_debug_shows_the_report():
    app = create_app()
    app.debug = True  # read at each request
    is_report(app.test_client().get("/index?profile"), "index_work", "GET /index")
    assert sys.getprofile() is None


def test_init_app():
    app = create_app(profiler=False)
    app.debug = True
    ext = Profiler()
    ext.init_app(app)
    assert app.extensions["stroboscope"] is ext
    is_report(app.test_client().get("/index?profile"), "index_work")


def test_show_callback_gets_a_request():
    seen = []

    def cb(request):
        seen.append((request.path, request.args.get("who")))
        return request.args.get("who") == "me"

    app = create_app(STROBOSCOPE_SHOW_CALLBACK=cb)
    client = app.test_client()
    is_report(client.get("/index?profile&who=me"), "index_work")
    assert client.get("/hello?profile&who=you").get_data() == HELLO
    assert seen == [("/index", "me"), ("/hello", "you")]


def test_dotted_show_callback_overrides_debug():
    app = create_app(STROBOSCOPE_SHOW_CALLBACK="webapps.flask_app.allow_header")
    app.debug = True
    client = app.test_client()
    assert client.get("/hello?profile").get_data() == HELLO
    is_report(client.get("/index?profile", headers={"X-Stroboscope-Test": "allow"}), "index_work")


def test_url_argument_from_config():
    app = create_app(STROBOSCOPE_URL_ARGUMENT="strobe")
    app.debug = True
    client = app.test_client()
    assert client.get("/hello?profile").get_data() == HELLO
    is_report(client.get("/index?strobe=1"), "index_work")


def test_profile_dir(tmp_path):
    app = create_app(STROBOSCOPE_PROFILE_DIR=str(tmp_path), STROBOSCOPE_RENDERER="text")
    plain = create_app(profiler=False).test_client()
    client = app.test_client()
    assert snapshot(client.get("/hello")) == snapshot(plain.get("/hello"))
    client.get("/index")
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and all(n.endswith(".txt") for n in names)
    assert any("index_work" in (tmp_path / n).read_text() for n in names)


def test_streaming_response(tmp_path):
    app = create_app(STROBOSCOPE_PROFILE_DIR=str(tmp_path))
    plain = create_app(profiler=False).test_client()
    got = app.test_client().get("/stream")
    assert got.get_data() == b"".join(f"chunk {i} /stream\n".encode() for i in range(5))
    assert snapshot(got) == snapshot(plain.get("/stream"))
    assert len(os.listdir(tmp_path)) == 1


def test_slow_threshold(tmp_path):
    app = create_app(
        STROBOSCOPE_PROFILE_DIR=str(tmp_path), STROBOSCOPE_SLOW_THRESHOLD=0.2, STROBOSCOPE_FILENAME="{path}.{ext}"
    )
    client = app.test_client()
    client.get("/hello")
    client.get("/slow")
    assert os.listdir(tmp_path) == ["slow.html"]


def test_view_that_raises(tmp_path):
    app = create_app(STROBOSCOPE_PROFILE_DIR=str(tmp_path))
    app.debug = True
    app.testing = True  # Flask lets the exception through
    client = app.test_client()
    with pytest.raises(work.ViewError) as info:
        client.get("/boom?profile")
    assert info.value is work.LAST_ERROR[-1]
    assert sys.getprofile() is None
    is_report(client.get("/index?profile"), "index_work")
    assert client.get("/getprofile").get_data() == b"None"
    assert len(os.listdir(tmp_path)) == 3  # the failed request is kept too


def test_view_that_raises_not_testing():
    app = create_app()
    app.debug = True
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert client.get("/boom").status_code == 500
    # Flask turned the error into a 500 page: the report of that request.
    is_report(client.get("/boom?profile"), "GET /boom")
    assert sys.getprofile() is None


def test_concurrent_test_clients():
    app = create_app()
    app.debug = True
    pages = {}

    def run(name):
        pages[name] = is_report(app.test_client().get(f"/{name}?profile"))

    threads = [threading.Thread(target=run, args=(n,)) for n in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "alpha_work" in pages["alpha"] and "beta_work" not in pages["alpha"]
    assert "beta_work" in pages["beta"] and "alpha_work" not in pages["beta"]


# -- a real server ---------------------------------------------------------
@pytest.fixture(scope="module")
def flask_server(tmp_path_factory):
    profile_dir = tmp_path_factory.mktemp("flask-profiles")
    argv = lambda port: [sys.executable, "-m", "webapps.flask_app", str(port)]  # noqa: E731
    with servers.server(argv, env={"STROBO_TEST_PROFILE_DIR": str(profile_dir)}) as base:
        yield base, profile_dir


ALLOW = {"X-Stroboscope-Test": "allow"}


def comparable(response):
    headers = sorted((k, v) for k, v in response.headers if k not in ("Date", "Server"))
    return response.status, headers, response.body


@pytest.mark.full
def test_server_untouched_responses(flask_server):
    base, _ = flask_server
    plain = servers.get(base, "/hello")
    assert plain.status == 200 and plain.body == HELLO and plain.header("X-Test") == "kept"
    refused = servers.get(base, "/hello?profile")
    assert comparable(refused) == comparable(plain)
    assert servers.get(base, "/stream").body == b"".join(f"chunk {i} /stream\n".encode() for i in range(5))


@pytest.mark.full
def test_server_report_and_saved_files(flask_server):
    base, profile_dir = flask_server
    before = set(os.listdir(profile_dir))
    r = servers.get(base, "/index?profile", headers=ALLOW)
    assert r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8"
    page = r.body.decode()
    assert page.startswith("<!DOCTYPE html>") and "index_work" in page
    new = set(os.listdir(profile_dir)) - before
    assert len(new) == 1 and "-GET-index-" in new.pop()


@pytest.mark.full
def test_server_error_then_normal(flask_server):
    base, _ = flask_server
    assert servers.get(base, "/boom").status == 500
    assert servers.get(base, "/getprofile").body == b"None"
    assert "index_work" in servers.get(base, "/index?profile", headers=ALLOW).body.decode()


@pytest.mark.full
def test_server_concurrent_requests(flask_server):
    base, _ = flask_server
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
