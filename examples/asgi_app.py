"""A one-file ASGI application (no framework) with stroboscope's middleware.

    python -m uvicorn examples.asgi_app:app

then open http://127.0.0.1:8000/ and add ?profile to any address:
http://127.0.0.1:8000/primes?profile shows that request's HTML report
instead of the page, with the time /slow spends in ``await`` under
``[await]``. Reports are shown to requests from this machine only; they hold
the server's file paths and code names, so never show them to the public
(see show_callback in the README, "Web requests").

With STROBOSCOPE_PROFILE_DIR=/some/dir in the environment, every request
slower than 0.1 s also leaves its report in that directory.
"""

import asyncio
import os

from stroboscope.middleware.asgi import ProfilerMiddleware


def primes_below(n):
    return [k for k in range(2, n) if all(k % d for d in range(2, int(k**0.5) + 1))]


async def wait_for_backend():
    await asyncio.sleep(0.2)


async def plain_app(scope, receive, send):
    if scope["type"] != "http":
        return  # lifespan: nothing to set up
    if scope["path"] == "/primes":
        body = f"{len(primes_below(60_000))} primes below 60,000\n"
    elif scope["path"] == "/slow":
        await wait_for_backend()
        body = f"waited, then found {len(primes_below(20_000))} primes\n"
    else:
        body = (
            "<h1>stroboscope + ASGI</h1><ul>"
            '<li><a href="/primes">/primes</a> (<a href="/primes?profile">profiled</a>)</li>'
            '<li><a href="/slow">/slow</a> (<a href="/slow?profile">profiled</a>)</li></ul>'
        )
    content_type = b"text/html; charset=utf-8" if body.startswith("<") else b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body.encode()})


def from_this_machine(scope):
    return (scope.get("client") or ("",))[0] == "127.0.0.1"


app = ProfilerMiddleware(
    plain_app,
    show_callback=from_this_machine,
    profile_dir=os.environ.get("STROBOSCOPE_PROFILE_DIR") or None,
    slow_threshold=0.1,
)
