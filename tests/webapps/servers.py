"""Starting a web server as a subprocess on a free port, for the tests."""

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

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
