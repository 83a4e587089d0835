"""The Flask extension: through Flask's test client and against Flask's
threaded development server on 127.0.0.1."""

import logging
import os
import sys

import pytest

flask = pytest.importorskip("flask")

import stroboscope  # noqa: E402
from stroboscope.middleware.flask import Profiler  # noqa: E402
from webapps import checks, servers, work  # noqa: E402
from webapps.flask_app import HELLO, create_app  # noqa: E402


@pytest.fixture
def no_profiler(monkeypatch):
    checks.forbid_profiler(monkeypatch)


def is_report(response, *names):
    return checks.report_page(response.status_code, response.headers["Content-Type"], response.get_data(), *names)


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
    checks.no_profiler_left()


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
    assert got.get_data() == "".join(work.chunks("/stream")).encode()
    assert snapshot(got) == snapshot(plain.get("/stream"))
    assert len(os.listdir(tmp_path)) == 1


def test_slow_threshold(tmp_path, monkeypatch):
    checks.FakeClock(monkeypatch)
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
    checks.view_that_raises(lambda path: is_report(client.get(path)), tmp_path)


def test_view_that_raises_not_testing():
    app = create_app()
    app.debug = True
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert client.get("/boom").status_code == 500
    # Flask turned the error into a 500 page: the report of that request.
    is_report(client.get("/boom?profile"), "GET /boom")
    checks.no_profiler_left()


def test_report_that_cannot_be_made_gives_the_response(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no report today")

    monkeypatch.setattr(stroboscope.Session, "render", broken)
    app = create_app()
    app.debug = True
    plain = create_app(profiler=False).test_client()
    with caplog.at_level(logging.ERROR, logger="stroboscope.middleware"):
        for path in ("/hello?profile", "/stream?profile"):
            assert snapshot(app.test_client().get(path)) == snapshot(plain.get(path))
    assert "no report today" in caplog.text


def test_under_an_all_threads_profiler(caplog):
    app = create_app()
    app.debug = True
    client = app.test_client()
    got = checks.served_under_an_all_threads_profiler(caplog, lambda: client.get("/hello?profile"))
    plain = create_app(profiler=False).test_client()
    assert [snapshot(r) for r in got] == [snapshot(plain.get("/hello?profile"))] * 2


def test_concurrent_test_clients():
    app = create_app()
    app.debug = True
    checks.each_gets_its_own_profile(lambda name: is_report(app.test_client().get(f"/{name}?profile")))


# -- a real server ---------------------------------------------------------
@pytest.fixture(scope="module")
def flask_server(tmp_path_factory):
    profile_dir = tmp_path_factory.mktemp("flask-profiles")
    argv = lambda port: [sys.executable, "-m", "webapps.flask_app", str(port)]  # noqa: E731
    with servers.server(argv, env={"STROBO_TEST_PROFILE_DIR": str(profile_dir)}) as base:
        yield servers.Running(base, str(profile_dir), HELLO)


@pytest.mark.full
def test_server_untouched_responses(flask_server):
    servers.check_untouched_responses(flask_server)


@pytest.mark.full
def test_server_report_and_saved_file(flask_server):
    servers.check_report_and_saved_file(flask_server)


@pytest.mark.full
def test_server_error_then_normal(flask_server):
    servers.check_error_then_normal(flask_server)


@pytest.mark.full
def test_server_concurrent_requests(flask_server):
    servers.check_concurrent_requests(flask_server)
