"""Profiling a Flask application.

>>> from stroboscope.middleware.flask import Profiler
>>> Profiler(app)                       # or: profiler = Profiler(); profiler.init_app(app)

Options come from ``app.config`` when ``init_app`` runs, under the names of
:mod:`stroboscope.middleware` in capitals: ``STROBOSCOPE_URL_ARGUMENT``,
``STROBOSCOPE_SHOW_CALLBACK``, ``STROBOSCOPE_PROFILE_DIR``,
``STROBOSCOPE_FILENAME``, ``STROBOSCOPE_RENDERER``, ``STROBOSCOPE_INTERVAL``,
``STROBOSCOPE_SLOW_THRESHOLD``.

``/any/page?profile`` returns that request's HTML report only while
``app.debug`` is on, unless ``STROBOSCOPE_SHOW_CALLBACK`` decides instead.
The callback gets a ``app.request_class`` built from the request's environ
(``flask.request`` is not bound yet: the request has not started), e.g.
``lambda request: request.remote_addr == "127.0.0.1"``. A report holds the
server's file paths and code names: never allow it to the public.

The extension wraps ``app.wsgi_app`` with
:class:`stroboscope.middleware.wsgi.ProfilerMiddleware`, so a request is
profiled through Flask's whole handling (hooks, view, error handlers) and a
streamed response streams as before.
"""

from __future__ import annotations

from typing import Any, Optional

from . import Options
from .wsgi import ProfilerMiddleware

__all__ = ["Profiler"]


class Profiler:
    """The Flask extension; see the module's docstring."""

    def __init__(self, app: Any = None) -> None:
        self.middleware: Optional[ProfilerMiddleware] = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        options = Options.from_config(app.config.get)
        self.middleware = ProfilerMiddleware(
            app.wsgi_app,
            _options=options,
            # Read at request time: `flask run --debug` may turn it on late.
            _default_show=lambda request: bool(app.debug),
            _show_argument=app.request_class,
        )
        app.wsgi_app = self.middleware
        app.extensions["stroboscope"] = self
