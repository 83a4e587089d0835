"""A plain ASGI application, and the same wrapped in stroboscope's ASGI
middleware as ``app``; served with ``python -m uvicorn webapps.asgi_app:app``
(options from STROBO_TEST_* variables)."""

import asyncio
import os
from urllib.parse import parse_qsl

from stroboscope.middleware.asgi import ProfilerMiddleware
from webapps import work

HELLO = b"hello from asgi\n"

#: What the lifespan protocol has told the application so far.
LIFESPAN = []


async def respond(send, body, status=200, headers=()):
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())] + list(headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def stream(send, path):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for chunk in work.chunks(path):
        await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def lifespan(receive, send):
    while True:
        message = await receive()
        LIFESPAN.append(message["type"])
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def echo_websocket(receive, send):
    """Accepts, sends back one text message, closes."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    message = await receive()
    await send({"type": "websocket.send", "text": "echo " + (message.get("text") or "")})
    await send({"type": "websocket.close", "code": 1000})


async def plain_app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "websocket":
        return await echo_websocket(receive, send)
    assert scope["type"] == "http"
    path = scope["path"]
    query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
    if path == "/hello":
        await respond(send, HELLO, headers=[(b"x-test", b"kept")])
    elif path == "/index":
        await respond(send, f"index {work.index_work()}\n".encode())
    elif path.lstrip("/") in work.COLORS:
        name = path.lstrip("/")
        view = getattr(work, name + "_work")
        n = await view(query.get("group", name), int(query.get("expected", "1")))
        await respond(send, f"{name} {n}\n".encode())
    elif path == "/stream":
        await stream(send, path)
    elif path == "/boom":
        await work.async_fail()
    elif path == "/lifespan":
        await respond(send, " ".join(LIFESPAN).encode())
    else:
        await respond(send, b"not found\n", status=404)


def allow_header(scope):
    """Show callback: reports only for a marked request."""
    return (b"x-stroboscope-test", b"allow") in scope.get("headers", [])


def create_app(**options):
    return ProfilerMiddleware(plain_app, **options)


app = create_app(
    show_callback=allow_header,
    profile_dir=os.environ.get("STROBO_TEST_PROFILE_DIR") or None,
)
