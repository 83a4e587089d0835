"""A one-file Django project with stroboscope's middleware.

    python examples/django_app/manage.py runserver

then open http://127.0.0.1:8000/ and add ?profile to any address:
http://127.0.0.1:8000/primes?profile shows that request's HTML report
instead of the page. Reports are shown because DEBUG is on; they hold the
server's file paths and code names, so never turn DEBUG on in production
(see STROBOSCOPE_SHOW_CALLBACK in the README, "Web requests", to allow them otherwise).

With STROBOSCOPE_PROFILE_DIR=/some/dir in the environment, every request
slower than 0.1 s also leaves its report in that directory.
"""

import os
import sys
import time

from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=True,
    SECRET_KEY="stroboscope-example-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["stroboscope.middleware.django.ProfilerMiddleware"],
    STROBOSCOPE_PROFILE_DIR=os.environ.get("STROBOSCOPE_PROFILE_DIR") or None,
    STROBOSCOPE_SLOW_THRESHOLD=0.1,
)


def primes_below(n):
    return [k for k in range(2, n) if all(k % d for d in range(2, int(k**0.5) + 1))]


def wait_for_backend():
    time.sleep(0.2)


def index(request):
    return HttpResponse(
        "<h1>stroboscope + Django</h1><ul>"
        '<li><a href="/primes">/primes</a> (<a href="/primes?profile">profiled</a>)</li>'
        '<li><a href="/slow">/slow</a> (<a href="/slow?profile">profiled</a>)</li></ul>'
    )


def primes(request):
    return HttpResponse(f"{len(primes_below(60_000))} primes below 60,000\n", content_type="text/plain")


def slow(request):
    wait_for_backend()
    return HttpResponse(f"waited, then found {len(primes_below(20_000))} primes\n", content_type="text/plain")


urlpatterns = [path("", index), path("primes", primes), path("slow", slow)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
