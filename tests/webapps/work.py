"""What the test views do, in functions whose names the reports must show."""

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
