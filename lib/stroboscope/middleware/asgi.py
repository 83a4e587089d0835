"""Profiling any ASGI application (ASGI 3: Starlette, FastAPI, Quart, ...).

>>> from stroboscope.middleware.asgi import ProfilerMiddleware
>>> app = ProfilerMiddleware(app, profile_dir="/var/tmp/profiles", slow_threshold=0.5)

then serve ``app`` as before, e.g. ``uvicorn module:app``. By default no
report is shown to anybody: pass ``show_callback`` (it gets the ASGI scope;
it may be a coroutine function) to let ``?profile`` return the request's
HTML report, e.g. only from this machine::

    ProfilerMiddleware(app, show_callback=lambda scope: (scope.get("client") or ("",))[0] == "127.0.0.1")

A report holds the server's file paths and code names (see
:mod:`stroboscope.middleware` for every option and what is safe to expose).

Only ``http`` requests are profiled; ``lifespan`` and ``websocket``
connections go to the application untouched. A request is profiled in its
own asyncio task, from the call of the application until it returns, so
concurrent requests on the event loop each get a profile of their own; the
time the request waits in an ``await`` (a database, ``asyncio.sleep``, a
client reading slowly) shows under an ``[await]`` leaf. Work the application
hands to other tasks (``asyncio.create_task``, a middleware that runs the
rest of the stack in a task of its own) or to threads (``run_in_executor``)
is not in the profile, only the time spent awaiting it: wrap the
application inside such a middleware rather than around it.

Without a report, the application's messages are passed on as it sends them
(a streaming response streams as before) and the body it sends is part of
the profile; the profile is saved on a worker thread just after the
response. For a report, the messages are held (in memory) until the
application returns, then dropped and the report sent instead; if no report
can be made they are sent as they were. A response that never ends
(server-sent events) therefore never answers ``?profile``. An exception from
the application reaches the server unchanged, and the profiler is stopped
either way.

Keyword arguments: the options of :mod:`stroboscope.middleware`
(``url_argument``, ``show_callback``, ``profile_dir``, ``filename``,
``renderer``, ``interval``, ``slow_threshold``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, MutableMapping

from . import REPORT_CONTENT_TYPE, REPORT_HEADERS, Options, RequestRun, in_thread, render_report

__all__ = ["ProfilerMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ProfilerMiddleware:
    """Wraps an ASGI 3 application; see the module's docstring."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], **options: Any) -> None:
        self.app = app
        self.options = Options(**options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        opts = self.options
        show = False
        if opts.asks_for_report(scope.get("query_string", b"").decode("latin-1")):
            show = await opts.may_show_async(scope)
        if not show and not opts.profile_dir:
            await self.app(scope, receive, send)
            return
        method = scope.get("method") or "GET"
        path = scope.get("path") or "/"
        # Here, in the server's task for this request: the profiler samples
        # this task only.
        run = RequestRun.begin_in_task(opts, method, path)
        if run is None:
            await self.app(scope, receive, send)
            return
        if not show:
            try:
                await self.app(scope, receive, send)
            finally:
                await run.finish_async()
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, receive, hold)
        finally:
            session = await run.finish_async()
        page = await in_thread(render_report, session, method, path) if session is not None else None
        if page is None:
            for message in held:
                await send(message)
            return
        headers = [(b"content-type", REPORT_CONTENT_TYPE.encode("latin-1"))]
        headers.append((b"content-length", str(len(page)).encode("latin-1")))
        headers.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in REPORT_HEADERS)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page, "more_body": False})
