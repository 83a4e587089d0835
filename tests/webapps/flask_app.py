"""A Flask application with the stroboscope extension; run as a server with
``python -m webapps.flask_app PORT`` (options from STROBO_TEST_* variables)."""

import os
import sys

from flask import Flask, Response, request, stream_with_context

from stroboscope.middleware.flask import Profiler
from webapps import work

HELLO = b"hello from flask\n"


def create_app(profiler=True, **config):
    app = Flask(__name__)
    app.config.update(config)

    @app.route("/hello")
    def hello():
        return Response(HELLO, mimetype="text/plain", headers={"X-Test": "kept"})

    @app.route("/index")
    def index():
        return f"index {work.index_work()}\n"

    @app.route("/alpha")
    def alpha():
        return f"alpha {work.alpha_work()}\n"

    @app.route("/beta")
    def beta():
        return f"beta {work.beta_work()}\n"

    @app.route("/slow")
    def slow():
        work.slow_work()
        return "slow\n"

    @app.route("/boom")
    def boom():
        work.fail()

    @app.route("/stream")
    def stream():
        def chunks():
            # request is read while the body streams: the context must last.
            yield from work.chunks(request.path)

        return Response(stream_with_context(chunks()), mimetype="text/plain")

    if profiler:
        Profiler(app)
    return app


def allow_header(request):
    """Show callback for the server: reports only for a marked request."""
    return request.headers.get("X-Stroboscope-Test") == "allow"


def main():
    port = int(sys.argv[1])
    config = {"STROBOSCOPE_SHOW_CALLBACK": "webapps.flask_app.allow_header"}
    if os.environ.get("STROBO_TEST_PROFILE_DIR"):
        config["STROBOSCOPE_PROFILE_DIR"] = os.environ["STROBO_TEST_PROFILE_DIR"]
    app = create_app(**config)
    app.run(host="127.0.0.1", port=port, threaded=True, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
