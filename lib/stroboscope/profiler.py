"""Profiler: the in-code surface (context manager, start/stop, decorator)."""

from __future__ import annotations

import functools
import os
import sys
import threading
from typing import Any, Callable, Optional, TextIO

from . import _core, children
from .session import Session, library_prefixes, write_atomic

__all__ = ["Profiler", "ProfilerError", "profile"]

ProfilerError = _core.ProfilerError

# Frames from this package are never shown in a report.
_OWN_PREFIX = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _stream_wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _stream_wants_unicode(stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None) or ""
    return encoding.lower().replace("-", "") in ("utf8", "utf16", "utf32")


class Profiler:
    """Samples the thread that starts it, or every thread with
    ``all_threads=True``.

    >>> with Profiler() as p:
    ...     work()
    >>> p.print()

    ``interval`` is the time between samples in seconds (default 1 ms). With
    ``all_threads`` one sample every interval covers every Python thread of
    the process, each under a root naming it ("MainThread (tid 4242)");
    threads started while it runs are included, threads that end keep their
    samples. Each thread is charged its own wall and CPU time, so a merged
    view adds the threads' times up (4 threads busy for 1 s show 4 s).

    ``async_mode`` ("enabled", the default, "disabled" or "strict") says
    what a profiler started inside an asyncio task records: enabled, that
    task only, from its outermost coroutine down, and while the task is
    suspended in an ``await`` the chain of coroutines it awaits through with
    an ``[await]`` leaf; strict, the same with one ``[out of context]``
    frame for the suspended time; disabled, the thread's whole stack, event
    loop included. Started outside a task, or with ``all_threads``, it
    makes no difference (docs/async.md).

    With ``follow_children`` every Python child process started while it
    runs (``os.fork``, ``multiprocessing`` with any start method,
    ``subprocess`` running Python) profiles itself with the same settings
    and saves its session as ``<pid>.strobe`` in ``children_dir`` (default:
    a new temporary directory); :attr:`children` lists those files
    (docs/children.md).
    """

    def __init__(
        self,
        interval: float = 0.001,
        *,
        all_threads: bool = False,
        timeline: bool = False,
        estimator: str = "split",
        follow_children: bool = False,
        children_dir: "Optional[str | os.PathLike[str]]" = None,
        async_mode: str = "enabled",
    ) -> None:
        if async_mode not in ("enabled", "disabled", "strict"):
            raise ValueError("async_mode must be 'enabled', 'disabled' or 'strict'")
        self.async_mode = async_mode
        self._interval = interval
        self._estimator = estimator
        self._scope: Optional[tuple] = None  # (hub, scope id) in a task
        self.all_threads = bool(all_threads)
        self._timeline = bool(timeline)
        self.follow_children = bool(follow_children)
        #: where the followed children save their sessions (set by the first
        #: start() when not given)
        self.children_dir: Optional[str] = None if children_dir is None else os.path.abspath(children_dir)
        self._following: Optional[tuple] = None
        self._sampler = _core.Sampler(interval, _OWN_PREFIX, estimator, timeline, self.all_threads)
        self._target: Optional[str] = None
        self.last_session: Optional[Session] = None

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def is_running(self) -> bool:
        return self._scope is not None or self._sampler.is_running

    def start(self, *, root_code: Any = None, target: Optional[str] = None) -> None:
        """Start sampling this thread (or all threads). Raises ProfilerError
        if already running."""
        self._target = target
        follow = self.follow_children and self._following is None and not self.is_running
        if follow:
            if self.children_dir is None:
                import tempfile

                self.children_dir = tempfile.mkdtemp(prefix="stroboscope-children-")
            self._following = children.start_following(
                children.settings(self.children_dir, self._interval, self.all_threads, self._timeline)
            )
        task = None if self.all_threads or self.async_mode == "disabled" else _current_task()
        try:
            if task is not None:
                if self.is_running:
                    raise ProfilerError("the profiler is already running")
                hub = _TaskHub.of_this_thread(self._interval, self._estimator)
                self._scope = (hub, hub.add(task, self.async_mode == "strict"))
                return
            try:
                self._sampler.start(root_code)
            except ProfilerError:
                # In a followed child, the profiler that follows it gives way
                # to the program's own (its profile ends and is saved here).
                if self.is_running or not children.step_aside(self):
                    raise
                self._sampler.start(root_code)
        except BaseException:
            if follow:
                self._stop_following()
            raise

    def _stop_following(self) -> None:
        if self._following is not None:
            children.stop_following(self._following)
            self._following = None

    @property
    def children(self) -> list[str]:
        """The session files the followed children have saved so far (a child
        saves when it exits), sorted."""
        return children.sessions_in(self.children_dir) if self.children_dir else []

    def stop(self) -> Session:
        """Stop sampling and return the session (also kept as last_session).
        A profiler started again after a stop adds to its session: the
        result combines every run since the last :meth:`reset`.
        Raises ProfilerError if not running or called from another thread."""
        if self._scope is not None:
            hub, scope = self._scope
            data = hub.remove(scope)
            self._scope = None
        else:
            data = self._sampler.stop()
        self._stop_following()
        session = Session(data)
        if self._target is not None:
            session.target = self._target
        elif session.target is None:
            session.target = " ".join(sys.argv) if sys.argv and sys.argv[0] else "python"
        data.library_prefixes = library_prefixes()
        if self.last_session is not None:
            session = Session.combine(self.last_session, session)
        self.last_session = session
        return session

    def reset(self) -> None:
        """Forget the sessions recorded so far (stop() first if running)."""
        if self.is_running:
            raise ProfilerError("reset() while the profiler is running")
        self.last_session = None

    def __enter__(self) -> "Profiler":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _session(self) -> Session:
        if self.last_session is None:
            raise ProfilerError("no session: the profiler has not been run yet")
        return self.last_session

    def output_text(self, unicode: bool = False, color: bool = False, show_all: bool = False, **view) -> str:
        return self._session().render("text", unicode=unicode, color=color, show_all=show_all, **view)

    def output(self, renderer: str = "text", **options: Any) -> str:
        return self._session().render(renderer, **options)

    def output_html(self, **view: Any) -> str:
        """The last session as one self-contained HTML page."""
        return self._session().render("html", **view)

    def write_html(self, path: "str | os.PathLike[str]", **view: Any) -> None:
        """Write the HTML report to path (atomically)."""
        write_atomic(os.fspath(path), self.output_html(**view).encode("utf-8"))

    def open_in_browser(self, **view: Any) -> str:
        """Write the HTML report to a temporary file, open it in the default
        browser and return the file's path (the file is left for the
        browser to read)."""
        return open_html_in_browser(self.output_html(**view))

    def print(
        self,
        file: Optional[TextIO] = None,
        *,
        unicode: Optional[bool] = None,
        color: Optional[bool] = None,
        show_all: bool = False,
        **view: Any,
    ) -> None:
        """Print the text report (to stdout by default)."""
        file = sys.stdout if file is None else file
        unicode = _stream_wants_unicode(file) if unicode is None else unicode
        color = _stream_wants_color(file) if color is None else color
        file.write(self.output_text(unicode=unicode, color=color, show_all=show_all, **view))
        file.flush()


def _current_task() -> Any:
    """The asyncio task running on this thread, or None (asyncio is only
    looked at when the program has imported it)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop on this thread
        return None


class _TaskHub:
    """The sampler of one thread's task scopes: every task-scoped profiler on
    the thread (one per task: concurrent requests under the ASGI
    middleware) shares it. It runs while one of them does."""

    _local = threading.local()

    def __init__(self, interval: float, estimator: str) -> None:
        self.key = (interval, estimator, os.getpid())
        self.sampler = _core.Sampler(interval, _OWN_PREFIX, estimator, False, False, True)

    @classmethod
    def of_this_thread(cls, interval: float, estimator: str) -> "_TaskHub":
        hub = getattr(cls._local, "hub", None)
        if hub is None or hub.key != (interval, estimator, os.getpid()):
            if hub is not None and hub.key[2] == os.getpid() and hub.sampler.is_running:
                raise ProfilerError(
                    "task profilers with another interval or estimator are running on this thread"
                )
            hub = cls._local.hub = cls(interval, estimator)
        return hub

    def add(self, task: Any, strict: bool) -> int:
        if not self.sampler.is_running:
            self.sampler.start()
        try:
            return self.sampler.add_scope(task.get_coro(), strict)
        except BaseException:
            if self.sampler.scope_count == 0:
                self.sampler.stop()
            raise

    def remove(self, scope: int) -> Any:
        try:
            return self.sampler.remove_scope(scope)
        finally:
            if self.sampler.is_running and self.sampler.scope_count == 0:
                self.sampler.stop()


def open_html_in_browser(html: str) -> str:
    import tempfile
    import webbrowser

    fd, path = tempfile.mkstemp(prefix="stroboscope-", suffix=".html")
    with os.fdopen(fd, "wb") as f:
        f.write(html.encode("utf-8"))
    webbrowser.open("file://" + path)
    return path


class profile:
    """Profile a block or a function and print a short report to stderr.

    Use as ``@profile()`` / ``@profile`` on a function, or ``with profile():``.
    """

    def __init__(self, func: Optional[Callable] = None, *, interval: float = 0.001, **view: Any) -> None:
        self._interval = interval
        self._view = view
        self._profiler: Optional[Profiler] = None
        self._func = func
        if func is not None:
            functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._func is None:
            # @profile(...) with options: wrap the function now.
            (func,) = args
            return profile(func, interval=self._interval, **self._view)
        with profile(interval=self._interval, **self._view):
            return self._func(*args, **kwargs)

    def __enter__(self) -> "profile":
        self._profiler = Profiler(self._interval)
        self._profiler.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._profiler is not None
        self._profiler.stop()
        self._profiler.print(file=sys.stderr, **self._view)
