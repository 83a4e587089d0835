"""Checks the middleware tests share, whatever the framework."""

import logging
import os
import sys
import threading

import pytest

import stroboscope
import stroboscope.middleware as common
from webapps import work


def forbid_profiler(monkeypatch):
    """Makes the test fail if the middleware starts a profiler."""

    def boom(*args, **kwargs):
        raise AssertionError("a profiler was started")

    monkeypatch.setattr(common, "Profiler", boom)


class FakeClock:
    """Stands in for the clock that times requests: a request takes as long
    as its view says (``work.slow_work`` takes one second), whatever the
    machine's load."""

    def __init__(self, monkeypatch):
        self.now = 1000.0
        monkeypatch.setattr(common, "_clock", lambda: self.now)
        monkeypatch.setattr(work, "slow_work", self.slow_work)

    def slow_work(self):
        self.now += 1.0


def report_page(status, content_type, body, *names):
    """The text of a served report (checked to be one) naming ``names``."""
    assert status in (200, "200 OK")
    assert content_type == "text/html; charset=utf-8"
    page = body.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for name in names:
        assert name in page
    return page


def profiler_running():
    """Whether any profiler runs in this process: an all-threads profiler
    cannot start then."""
    probe = stroboscope.Profiler(all_threads=True)
    try:
        probe.start()
    except stroboscope.ProfilerError:
        return True
    probe.stop()
    return False


def no_profiler_left():
    assert sys.getprofile() is None
    assert not profiler_running()


def view_that_raises(fetch, profile_dir):
    """``fetch(path)`` gets a report through a framework whose test client
    lets a view's exception through, with a profile directory set: the
    error arrives as the view raised it, the profiler is gone, and the next
    request is profiled as usual."""
    with pytest.raises(work.ViewError) as info:
        fetch("/boom?profile")
    assert info.value is work.LAST_ERROR[-1]
    no_profiler_left()
    assert "index_work" in fetch("/index?profile")
    assert len(os.listdir(profile_dir)) == 2  # the failed request is kept too


def concurrently(fn, args):
    """{arg: fn(arg)} with every call at once, each on a thread of its own;
    the first exception is re-raised here."""
    got, errors = {}, []

    def run(arg):
        try:
            got[arg] = fn(arg)
        except BaseException as e:  # re-raised on the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return got


def each_gets_its_own_profile(fetch):
    """``fetch(name)`` gets the report of /alpha or /beta; both run at the
    same time (their views wait for each other) and each report must hold
    its own view's work only."""
    pages = concurrently(fetch, ["alpha", "beta"])
    assert "alpha_work" in pages["alpha"] and "beta_work" not in pages["alpha"]
    assert "beta_work" in pages["beta"] and "alpha_work" not in pages["beta"]


def own_work_only(pages):
    """``pages`` maps a color of ``work.COLORS`` to the profile of its
    request, all run at once: each holds its own view's function and none of
    the others'."""
    for color, page in pages.items():
        assert f"{color}_work" in page, color
        others = [c for c in pages if c != color and f"{c}_work" in page]
        assert not others, f"the profile of {color} holds the work of {others}"


def served_under_an_all_threads_profiler(caplog, fetch):
    """Calls ``fetch()`` twice while an all-threads profiler runs (as under
    ``stroboscope manage.py runserver``): the middleware cannot profile then,
    and must say so once, not per request. Returns what ``fetch`` returned."""
    with caplog.at_level(logging.DEBUG, logger="stroboscope.middleware"):
        with stroboscope.Profiler(all_threads=True):
            got = [fetch(), fetch()]
    said = [r for r in caplog.records if r.name == "stroboscope.middleware" and r.levelno >= logging.WARNING]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert "an all-threads profiler is already sampling every thread" in said[0].getMessage()
    no_profiler_left()
    return got
