"""Starting a web server as a subprocess on a free port, for the tests, and
the checks every server (Django's, Flask's) must pass."""

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import NamedTuple

from webapps import checks, work

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


# No proxy, whatever the environment says: the server is local.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(base, path, headers=None, timeout=30):
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with _opener.open(req, timeout=timeout) as r:
            return Response(r.status, list(r.getheaders()), r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Response(e.code, list(e.headers.items()), e.read())


@contextlib.contextmanager
def server(argv_for_port, env=None, ready_path="/hello", timeout=60):
    """Runs ``argv_for_port(port)`` with tests/ on PYTHONPATH; yields the base
    URL once ready_path answers; kills the server however the block ends."""
    port = free_port()
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = TESTS + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env.update(env or {})
    # The server's log goes to a file: a pipe nobody reads would fill up
    # and block the server.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv_for_port(port), env=full_env, cwd=TESTS, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def output():
        log.seek(0)
        return log.read().decode(errors="replace")[-4000:]

    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{output()}")
            try:
                get(base, ready_path, timeout=5)
                break
            except OSError:  # URLError, refused, timeout
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server on port {port} not ready after {timeout} s:\n{output()}")
                time.sleep(0.1)
        yield base
    finally:
        proc.kill()
        proc.wait(timeout=30)
        log.close()


# -- checks every server passes ------------------------------------------
#: What the servers' show callbacks allow (``allow_header`` in each app).
ALLOW = {"X-Stroboscope-Test": "allow"}


class Running(NamedTuple):
    base: str  # http://127.0.0.1:PORT
    profile_dir: str  # the server's STROBOSCOPE_PROFILE_DIR
    hello: bytes  # what its /hello answers


def comparable(response):
    headers = sorted((k, v) for k, v in response.headers if k not in ("Date", "Server"))
    return response.status, headers, response.body


def check_untouched_responses(srv):
    plain = get(srv.base, "/hello")
    assert plain.status == 200 and plain.body == srv.hello and plain.header("X-Test") == "kept"
    # ?profile without the header: refused, so the normal response.
    assert comparable(get(srv.base, "/hello?profile")) == comparable(plain)
    assert get(srv.base, "/stream").body == "".join(work.chunks("/stream")).encode()


def check_report_and_saved_file(srv):
    before = set(os.listdir(srv.profile_dir))
    r = get(srv.base, "/index?profile", headers=ALLOW)
    checks.report_page(r.status, r.header("Content-Type"), r.body, "index_work", "GET /index")
    new = set(os.listdir(srv.profile_dir)) - before
    # Under ASGI a request's file is saved just after its response is sent:
    # files of earlier requests (the readiness probes) may still arrive.
    assert len([n for n in new if "-GET-index-" in n]) == 1


def check_error_then_normal(srv):
    assert get(srv.base, "/boom").status == 500
    r = get(srv.base, "/index?profile", headers=ALLOW)
    checks.report_page(r.status, r.header("Content-Type"), r.body, "index_work")


def check_concurrent_requests(srv):
    checks.each_gets_its_own_profile(lambda name: get(srv.base, f"/{name}?profile", headers=ALLOW).body.decode())
