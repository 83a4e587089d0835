"""Views and URLs of the test Django project."""

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

from webapps import work

HELLO = b"hello from django\n"


def hello(request):
    response = HttpResponse(HELLO, content_type="text/plain")
    response["X-Test"] = "kept"
    return response


def index(request):
    return HttpResponse(f"index {work.index_work()}\n")


def alpha(request):
    return HttpResponse(f"alpha {work.alpha_work()}\n")


def beta(request):
    return HttpResponse(f"beta {work.beta_work()}\n")


def slow(request):
    work.slow_work()
    return HttpResponse("slow\n")


def boom(request):
    work.fail()


def stream(request):
    return StreamingHttpResponse(work.chunks(request.path), content_type="text/plain")


async def color(request, name):
    """The async views (served in async mode under ASGI and AsyncClient)."""
    view = getattr(work, name + "_work")
    n = await view(request.GET.get("group", name), int(request.GET.get("expected", "1")))
    return HttpResponse(f"{name} {n}\n")


async def async_boom(request):
    await work.async_fail()


def allow_header(request):
    """Show callback: reports only for a marked request."""
    return request.headers.get("X-Stroboscope-Test") == "allow"


urlpatterns = [
    path("hello", hello),
    path("index", index),
    path("alpha", alpha),
    path("beta", beta),
    path("slow", slow),
    path("boom", boom),
    path("stream", stream),
    path("async/boom", async_boom),
] + [path(f"async/{name}", color, {"name": name}) for name in work.COLORS]
