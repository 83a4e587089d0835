"""What the test views do, in functions whose names the reports must show."""

import asyncio
import collections
import threading
import time

# alpha and beta run at the same time: each waits for the other to arrive.
_pair = threading.Barrier(2)


def spin(seconds):
    """Runs Python code for this much of the thread's own CPU time, so a
    loaded machine gives the profiler as many chances to sample as an idle
    one."""
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += 1
    return n


def meet():
    try:
        _pair.wait(timeout=10)
    except threading.BrokenBarrierError:
        _pair.reset()


def alpha_work(seconds=0.3):
    meet()
    return spin(seconds)


def beta_work(seconds=0.3):
    meet()
    return spin(seconds)


def index_work():
    return spin(0.1)


def slow_work():
    time.sleep(0.5)


def chunks(path):
    """The body of the streaming views."""
    for i in range(5):
        yield f"chunk {i} {path}\n"


class ViewError(Exception):
    pass


#: The exception the failing views raise, so a test can check it arrives as
#: the same object.
LAST_ERROR = []


def fail():
    err = ViewError("the view failed on purpose")
    LAST_ERROR.append(err)
    raise err


def allow_all(request):
    """A show callback that lets everybody see reports."""
    return True


# -- async views --------------------------------------------------------------
# Four requests run at once on one event loop, each in a function named after
# it; each profile must hold its own function and none of the others'.
COLORS = ("red", "green", "blue", "gold")

_arrived = collections.Counter()


async def meet_async(group, expected, timeout=10):
    """Waits until ``expected`` requests of ``group`` have arrived (meet()
    for coroutines; a test gives each run a group of its own)."""
    _arrived[group] += 1
    deadline = time.monotonic() + timeout
    while _arrived[group] < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


async def spin_async(seconds, rounds=10):
    """CPU work in slices with an await between them: the other requests
    run in the gaps, on the same thread."""
    n = 0
    for _ in range(rounds):
        n += spin(seconds / rounds)
        await asyncio.sleep(0.002)
    return n


async def red_work(group="red", expected=1, seconds=0.2):
    await meet_async(group, expected)
    return await spin_async(seconds)


async def green_work(group="green", expected=1, seconds=0.2):
    await meet_async(group, expected)
    return await spin_async(seconds)


async def blue_work(group="blue", expected=1, seconds=0.2):
    await meet_async(group, expected)
    return await spin_async(seconds)


async def gold_work(group="gold", expected=1, seconds=0.2):
    await meet_async(group, expected)
    return await spin_async(seconds)


async def async_fail():
    await asyncio.sleep(0)
    fail()
