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
called) and the report is sent instead; if no report can be made, the
application's response is sent as it would have been.

Keyword arguments: the options of :mod:`stroboscope.middleware`
(``url_argument``, ``show_callback``, ``profile_dir``, ``filename``,
``renderer``, ``interval``, ``slow_threshold``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from . import REPORT_CONTENT_TYPE, REPORT_HEADERS, Options, RequestRun, render_report

__all__ = ["ProfilerMiddleware"]


class _HeldStartResponse:
    """The ``start_response`` of an application whose response a report may
    replace: it sends nothing until :meth:`release`."""

    def __init__(self) -> None:
        self._call: Optional[tuple] = None
        self._written: list[bytes] = []
        self._target: Optional[Callable] = None
        self._write: Optional[Callable[[bytes], Any]] = None

    def __call__(self, status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], Any]:
        if self._target is not None:
            self._write = self._target(status, headers, exc_info)
        else:
            # Nothing is sent yet, so (PEP 3333) a call with exc_info, an
            # error page replacing the response, only replaces the call.
            self._call = (status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> None:
        if self._write is not None:
            self._write(data)
        else:
            self._written.append(data)

    def release(self, start_response: Callable) -> None:
        """Sends what the application gave so far to the server's
        ``start_response``, and passes what follows straight on (an
        application may call it when its body is first iterated)."""
        self._target = start_response
        if self._call is not None:
            self._write = start_response(*self._call)
            self._call = None
            for data in self._written:
                self._write(data)
            self._written.clear()


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
        _options: Optional[Options] = None,
        _default_show: Optional[Callable[[Any], bool]] = None,
        _show_argument: Optional[Callable[[dict], Any]] = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.options = _options or Options(**options)
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
        path = _request_path(environ)
        run = RequestRun.begin(self.options, method, path)
        if run is None:
            return self.app(environ, start_response)
        if not show:
            try:
                return self.app(environ, start_response)
            finally:
                run.finish()
        held = _HeldStartResponse()
        try:
            body = self.app(environ, held)
        finally:
            session = run.finish()
        page = render_report(session, method, path)
        if page is None:
            held.release(start_response)
            return body
        _close(body)
        headers = [("Content-Type", REPORT_CONTENT_TYPE), ("Content-Length", str(len(page)))]
        headers.extend(REPORT_HEADERS)
        start_response("200 OK", headers)
        return [page]


def _request_path(environ: dict) -> str:
    """The request's path as the client sent it: WSGI gives it as bytes
    decoded as latin-1, which would show ``/café`` as ``/cafÃ©``."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path
