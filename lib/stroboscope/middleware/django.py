"""Profiling a Django project (WSGI, synchronous views).

Add the middleware to ``settings.MIDDLEWARE``; after
``AuthenticationMiddleware`` if the show callback looks at ``request.user``,
otherwise as early as possible, so the profile covers the middleware below::

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "stroboscope.middleware.django.ProfilerMiddleware",
        ...,
    ]

Settings (all optional; see :mod:`stroboscope.middleware` for details):

``STROBOSCOPE_URL_ARGUMENT``   ``?profile`` returns the request's HTML report
``STROBOSCOPE_SHOW_CALLBACK``  callable or dotted path, ``(request) -> bool``:
                               who may ask; default: only while ``DEBUG`` is on
``STROBOSCOPE_PROFILE_DIR``    save every profiled request there
``STROBOSCOPE_FILENAME``       ``{timestamp}-{method}-{path}-{duration}s.{ext}``
``STROBOSCOPE_RENDERER``       saved files: ``html``, ``json``, ``text``, ``session``
``STROBOSCOPE_INTERVAL``       seconds between samples (0.001)
``STROBOSCOPE_SLOW_THRESHOLD`` save only requests taking at least this long

For example, to let staff see reports in production:
``STROBOSCOPE_SHOW_CALLBACK = lambda request: request.user.is_superuser``.
A report holds the server's file paths and code names: never allow it to the
public.

Settings are read when Django builds the middleware (once per process);
``DEBUG`` is read at each request. The request is profiled on its own thread,
from this middleware to the view and back: run Django under WSGI (the
middleware is synchronous; under ASGI it would profile the wrong thread).
"""

from __future__ import annotations

from typing import Any, Callable

from django.conf import settings
from django.http import HttpResponse

from . import REPORT_CONTENT_TYPE, REPORT_HEADERS, Options, RequestRun, render_report

__all__ = ["ProfilerMiddleware"]


def _debug_on(request: Any) -> bool:
    return bool(settings.DEBUG)


class ProfilerMiddleware:
    """See the module's docstring."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.options = Options.from_config(lambda name, default: getattr(settings, name, default))

    def __call__(self, request: Any) -> Any:
        opts = self.options
        show = opts.asks_for_report(request.META.get("QUERY_STRING", "")) and opts.may_show(request, _debug_on)
        if not show and not opts.profile_dir:
            return self.get_response(request)
        method = request.method or "GET"
        run = RequestRun.begin(opts, method, request.path)
        if run is None:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        finally:
            session = run.finish()
        page = render_report(session, method, request.path) if show else None
        if page is None:
            return response
        report = HttpResponse(page, content_type=REPORT_CONTENT_TYPE)
        for name, value in REPORT_HEADERS:
            report[name] = value
        # The view's response is replaced: what it holds open (a file) is
        # closed with the report. Not response.close(): that would also send
        # request_finished, which the server sends when it closes the report.
        closers = getattr(response, "_resource_closers", None)
        if isinstance(closers, list) and isinstance(getattr(report, "_resource_closers", None), list):
            report._resource_closers.extend(closers)
            closers.clear()
        return report
