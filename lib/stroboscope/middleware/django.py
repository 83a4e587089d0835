"""Profiling a Django project, under WSGI or ASGI.

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
``DEBUG`` is read at each request. The request is profiled from this
middleware to the view and back, on the request's thread under WSGI.

Under ASGI (``uvicorn project.asgi:application``) the middleware is
asynchronous whenever the layer below it is (Django's handler, and every
middleware after it that can be), and then profiles the request's asyncio
task: async views are profiled, time spent in an ``await`` shows under
``[await]``, and concurrent requests keep their own profiles. Django runs
synchronous code (a sync view, a sync-only middleware) on a worker thread,
and the profile shows that time as ``[await]`` only: profile such views
under WSGI, and put this middleware after any sync-only one. The show
callback runs where Django runs synchronous code (``sync_to_async``), so it
may use the database (``request.user``); a coroutine function is awaited.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpResponse

from . import REPORT_CONTENT_TYPE, REPORT_HEADERS, Options, RequestRun, in_thread, render_report

__all__ = ["ProfilerMiddleware"]


def _debug_on(request: Any) -> bool:
    return bool(settings.DEBUG)


class ProfilerMiddleware:
    """See the module's docstring."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.options = Options.from_config(lambda name, default: getattr(settings, name, default))
        # Django's way for a middleware that is both: async when the layer
        # below is (Django then awaits this one), sync otherwise.
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self._acall(request)
        opts = self.options
        show = _asks_for_report(opts, request) and opts.may_show(request, _debug_on)
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
        return _with_report(response, page)

    async def _acall(self, request: Any) -> Any:
        opts = self.options
        show = False
        if _asks_for_report(opts, request):
            callback = opts.show_callback or _debug_on
            if iscoroutinefunction(callback):
                show = await opts.may_show_async(request, _debug_on)
            else:
                # Where Django runs synchronous code: request.user may
                # query the database, which async code must not do.
                show = await sync_to_async(opts.may_show)(request, _debug_on)
        if not show and not opts.profile_dir:
            return await self.get_response(request)
        method = request.method or "GET"
        # In the request's task: the profiler samples this task only.
        run = RequestRun.begin_in_task(opts, method, request.path)
        if run is None:
            return await self.get_response(request)
        try:
            response = await self.get_response(request)
        finally:
            session = await run.finish_async()
        page = None
        if show and session is not None:
            page = await in_thread(render_report, session, method, request.path)
        return _with_report(response, page)


def _asks_for_report(opts: Options, request: Any) -> bool:
    return opts.asks_for_report(request.META.get("QUERY_STRING", ""))


def _with_report(response: Any, page: Optional[bytes]) -> Any:
    """The report in place of the view's response, or the response when
    there is no report."""
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
