"""A one-file Flask application with stroboscope's extension.

    python examples/flask_app/app.py

then open http://127.0.0.1:5000/ and add ?profile to any address:
http://127.0.0.1:5000/primes?profile shows that request's HTML report
instead of the page. Reports are shown because debug mode is on; they hold
the server's file paths and code names, so never run debug mode in
production (see STROBOSCOPE_SHOW_CALLBACK in the README, "Web requests").

With STROBOSCOPE_PROFILE_DIR=/some/dir in the environment, every request
slower than 0.1 s also leaves its report in that directory. The port is the
first argument (default 5000).
"""

import os
import sys
import time

from flask import Flask

from stroboscope.middleware.flask import Profiler

app = Flask(__name__)
app.config.update(
    STROBOSCOPE_PROFILE_DIR=os.environ.get("STROBOSCOPE_PROFILE_DIR") or None,
    STROBOSCOPE_SLOW_THRESHOLD=0.1,
)
Profiler(app)


def primes_below(n):
    return [k for k in range(2, n) if all(k % d for d in range(2, int(k**0.5) + 1))]


def wait_for_backend():
    time.sleep(0.2)


@app.route("/")
def index():
    return (
        "<h1>stroboscope + Flask</h1><ul>"
        '<li><a href="/primes">/primes</a> (<a href="/primes?profile">profiled</a>)</li>'
        '<li><a href="/slow">/slow</a> (<a href="/slow?profile">profiled</a>)</li></ul>'
    )


@app.route("/primes")
def primes():
    return f"{len(primes_below(60_000))} primes below 60,000\n", {"Content-Type": "text/plain"}


@app.route("/slow")
def slow():
    wait_for_backend()
    return f"waited, then found {len(primes_below(20_000))} primes\n", {"Content-Type": "text/plain"}


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    app.run(host="127.0.0.1", port=port, debug=True)
