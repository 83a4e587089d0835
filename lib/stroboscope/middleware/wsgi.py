"""Profiling any WSGI application.

>>> from stroboscope.middleware.wsgi import ProfilerMiddleware
>>> app = ProfilerMiddleware(app, profile_dir="/var/tmp/profiles", slow_threshold=0.5)

By default no report is shown to anybody: pass ``show_callback`` (it gets the
WSGI environ) to let ``?profile`` return the request's HTML report, e.g. only
from this machine::

    ProfilerMiddleware(app, show_callback=lambda environ: environ.get("REMOTE_ADDR") == "127.0.0.1")

A report holds the server's file paths and code names (see
:mod:`stroboscope.middleware` for every option and what is safe to expose).

The request is profiled while the application is called, on the server's
thread for that request, until it returns its body iterable. The iterable is
then passed on untouched, so streaming responses stream as before and the
server closes them; work done while the body is iterated is not profiled.
For a report the application's response is discarded (its ``close()`` is
called) and the report is sent instead.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Optional

from . import REPORT_CONTENT_TYPE, REPORT_HEADERS, DEFAULT_FILENAME, Options, RequestRun, render_report

__all__ = ["ProfilerMiddleware"]


def _discard_start_response(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
    if exc_info is not None:
        # The application reports an error after starting its response:
        # the spec says to re-raise it; there is no response to send.
        raise exc_info[1].with_traceback(exc_info[2])
    return lambda data: None


def _close(body: Iterable) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


class ProfilerMiddleware:
    """Wraps a WSGI application; see the module's docstring."""

    def __init__(
        self,
        app: Callable,
        *,
        url_argument: Optional[str] = "profile",
        show_callback: Any = None,
        profile_dir: "Optional[str | os.PathLike[str]]" = None,
        filename: str = DEFAULT_FILENAME,
        renderer: str = "html",
        interval: float = 0.001,
        slow_threshold: float = 0.0,
        _options: Optional[Options] = None,
        _default_show: Optional[Callable[[Any], bool]] = None,
        _show_argument: Optional[Callable[[dict], Any]] = None,
    ) -> None:
        self.app = app
        self.options = _options or Options(
            url_argument=url_argument,
            show_callback=show_callback,
            profile_dir=profile_dir,
            filename=filename,
            renderer=renderer,
            interval=interval,
            slow_threshold=slow_threshold,
        )
        # Framework glue (the Flask extension) passes its own default and
        # what the callback is called with instead of the environ.
        self._default_show = _default_show
        self._show_argument = _show_argument

    def _may_show(self, environ: dict) -> bool:
        opts = self.options
        if not opts.asks_for_report(environ.get("QUERY_STRING", "")):
            return False
        request = self._show_argument(environ) if self._show_argument else environ
        return opts.may_show(request, self._default_show)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        show = self._may_show(environ)
        if not show and not self.options.profile_dir:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        run = RequestRun.begin(self.options, method, path)
        if run is None:
            return self.app(environ, start_response)
        if not show:
            try:
                return self.app(environ, start_response)
            finally:
                run.finish()
        try:
            body = self.app(environ, _discard_start_response)
        finally:
            session = run.finish()
        try:
            if session is None:
                raise RuntimeError("stroboscope: the profiler failed; no report (see the log)")
            page = render_report(session)
        finally:
            _close(body)
        headers = [("Content-Type", REPORT_CONTENT_TYPE), ("Content-Length", str(len(page)))]
        headers.extend(REPORT_HEADERS)
        start_response("200 OK", headers)
        return [page]
