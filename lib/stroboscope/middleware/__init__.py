"""Profiling web requests: the logic the Django, Flask, WSGI and ASGI middleware share.

Each middleware (``stroboscope.middleware.django``, ``.flask``, ``.wsgi``,
``.asgi``) is thin glue around :class:`Options` and :class:`RequestRun`:

- **Nothing happens unless enabled.** A request is profiled only when a
  profile directory is set, or when it carries the URL argument
  (``?profile``) *and* the show callback allows it. Otherwise the
  middleware calls the application and returns its response untouched: no
  profiler is started.
- **A report is served only to an allowed request.** With the argument
  present but the callback refusing (or raising), the request gets its
  normal response, and the argument reaches the application as it came.
- **Reports are sensitive.** A report (and a saved session) holds the file
  paths of the server's code, function names, the Python version and the
  request's method and path (never its query string or headers). Allow
  ``?profile`` only to people who may see that, and keep the profile
  directory private: files are created with mode 0600.
- **Profiling never fails a request.** A missing directory is created (mode
  0700); any failure to render or write (no permission, disk full) is logged
  as a warning on the ``stroboscope.middleware`` logger and the request
  goes on. A request that cannot be profiled (another profiler samples its
  thread, or every thread: ``stroboscope manage.py runserver``) is served
  unprofiled, with one warning per reason rather than one per request; a
  report that cannot be made leaves the request its normal response.
- **File names stay in the directory.** Every field taken from the request
  is reduced to ``A-Z a-z 0-9 _ . -`` (slashes become dots, ``..`` segments
  are dropped), the whole name is limited to 200 bytes, and the file is
  created with ``O_EXCL``, adding ``-1``, ``-2``, ... when the name is taken,
  so two requests never share a file.

Options (keyword arguments of the WSGI and ASGI middleware; ``STROBOSCOPE_``
plus the name in capitals in Django settings and Flask config):

``url_argument`` (default ``"profile"``)
    The query argument asking for the report instead of the response:
    ``/page?profile`` (any value). The report is the HTML page of that
    request, ``200`` with ``text/html; charset=utf-8``.
``show_callback``
    A callable, or the dotted path of one, deciding whether this request may
    have a report; it gets the framework's request (the WSGI environ for the
    WSGI middleware, the scope for the ASGI one). Defaults: nobody (WSGI,
    ASGI), ``settings.DEBUG`` (Django), ``app.debug`` (Flask). Under ASGI
    it may be a coroutine function (it is awaited).
``profile_dir`` (default none)
    Profile every request and save its report there (see ``slow_threshold``).
``filename`` (default ``"{timestamp}-{method}-{path}-{duration}s.{ext}"``)
    The name of each saved file. Fields: ``{timestamp}`` (local time,
    ``20261125-003016``), ``{method}`` (``GET``), ``{path}`` (the request
    path, slashes as dots: ``api.users.42``; ``root`` for ``/``),
    ``{duration}`` (seconds, ``0.305``), ``{ext}`` (from the renderer:
    ``html``, ``json``, ``txt``, ``strobe``) and ``{pid}``.
``renderer`` (default ``"html"``)
    What is saved: ``html``, ``json``, ``text`` or ``session`` (a
    ``.strobe`` session file, ``stroboscope --load FILE``).
``interval`` (default ``0.001``)
    Seconds between samples, 0.0001 to 10.
``slow_threshold`` (default ``0``)
    Seconds: save only requests that took at least this long (every request
    is still profiled while a profile directory is set; the cost is small).
    A report asked for with ``?profile`` is served whatever the duration.

A request is profiled from the moment the middleware calls the next layer
until that layer returns, on the request's own thread only (other threads,
and concurrent requests, are not in its profile). Work a streaming response
does while its body is sent is not in the report.

Under ASGI (the ASGI middleware, Django's async path) a request is profiled
in its own asyncio task instead: concurrent requests share the event loop's
thread, and each profile holds only its own task, with the time it spends
waiting in an ``await`` under an ``[await]`` leaf. Work handed to other
tasks or to threads is not in it; the body an ASGI application sends,
streamed or not, is. Saving and rendering run on a worker thread, so the
event loop keeps serving.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import logging
import os
import re
import string
import time
from typing import Any, Callable, Optional, Union
from urllib.parse import parse_qsl

from ..profiler import Profiler, ProfilerError, _current_task
from ..session import SESSION_SUFFIX, Session, write_atomic

__all__ = ["DEFAULT_FILENAME", "Options", "RequestRun", "in_thread", "logger", "resolve_callable", "sanitize_path"]

logger = logging.getLogger("stroboscope.middleware")

DEFAULT_FILENAME = "{timestamp}-{method}-{path}-{duration}s.{ext}"
FILENAME_FIELDS = frozenset(("timestamp", "method", "path", "duration", "ext", "pid"))
EXTENSIONS = {"html": "html", "json": "json", "text": "txt", "session": SESSION_SUFFIX[1:]}
MIN_INTERVAL = 0.0001
MAX_INTERVAL = 10.0

# Longest saved name in bytes (names are ASCII), leaving room under the
# usual 255-byte limit for the "-N" that makes a taken name unique.
MAX_NAME_BYTES = 200
MAX_PATH_FIELD = 120
MAX_METHOD_FIELD = 20
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_SEPARATORS = re.compile(r"[/\\]+")

ShowCallback = Callable[[Any], bool]

# How long a request takes; a module attribute so that a test can stand a
# fake clock in its place.
_clock = time.perf_counter


def resolve_callable(value: Union[None, str, Callable], what: str) -> Optional[Callable]:
    """A callable given as itself or as a dotted path (``pkg.mod.func``)."""
    if value is None or callable(value):
        return value
    if not isinstance(value, str) or "." not in value:
        raise ValueError(f"{what} must be a callable or a dotted path to one, not {value!r}")
    module_name, _, attr = value.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{what}: cannot import {value!r}: {e}") from None
    if not callable(target):
        raise ValueError(f"{what}: {value!r} is not callable")
    return target


def sanitize_path(path: str) -> str:
    """The ``{path}`` field: the request path as one safe file-name part.
    ``/api/users/42`` gives ``api.users.42``; ``/`` gives ``root``."""
    parts = [p for p in _SEPARATORS.split(path) if p not in ("", ".", "..")]
    text = _UNSAFE.sub("_", ".".join(parts)).strip("._")
    return text[:MAX_PATH_FIELD] or "root"


def _safe_name(name: str, ext: str) -> str:
    """Makes a formatted file name safe: ASCII, no separators, not hidden,
    at most MAX_NAME_BYTES bytes, keeping the extension."""
    name = _UNSAFE.sub("_", name).lstrip(".") or "profile"
    suffix = "." + ext
    if len(name) > MAX_NAME_BYTES:
        stem = name[: -len(suffix)] if name.endswith(suffix) else name
        name = stem[: MAX_NAME_BYTES - len(suffix)] + suffix
    return name


def _split_ext(name: str, ext: str) -> tuple[str, str]:
    suffix = "." + ext
    if name.endswith(suffix) and len(name) > len(suffix):
        return name[: -len(suffix)], suffix
    return name, ""


class Options:
    """The middleware's options, checked once when the middleware is built
    (a bad value raises ValueError then, never during a request)."""

    def __init__(
        self,
        *,
        url_argument: str = "profile",
        show_callback: Union[None, str, ShowCallback] = None,
        profile_dir: Optional["str | os.PathLike[str]"] = None,
        filename: str = DEFAULT_FILENAME,
        renderer: str = "html",
        interval: float = 0.001,
        slow_threshold: float = 0.0,
    ) -> None:
        if url_argument is not None and (not isinstance(url_argument, str) or not url_argument):
            raise ValueError("url_argument must be a non-empty string (or None to turn ?profile off)")
        if renderer not in EXTENSIONS:
            raise ValueError(f"renderer must be one of {', '.join(EXTENSIONS)}, not {renderer!r}")
        try:
            interval = float(interval)
            slow_threshold = float(slow_threshold)
        except (TypeError, ValueError):
            raise ValueError("interval and slow_threshold are numbers of seconds") from None
        if not (MIN_INTERVAL <= interval <= MAX_INTERVAL):
            raise ValueError(f"interval must be between {MIN_INTERVAL} and {MAX_INTERVAL} seconds")
        if not (slow_threshold >= 0.0):
            raise ValueError("slow_threshold must be 0 or more seconds")
        if not isinstance(filename, str) or not filename:
            raise ValueError("filename must be a non-empty template string")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(filename) if f is not None}
        except ValueError as e:
            raise ValueError(f"filename {filename!r}: {e}") from None
        unknown = fields - FILENAME_FIELDS
        if unknown:
            raise ValueError(
                f"filename {filename!r}: unknown field(s) {', '.join(sorted(unknown))} "
                f"(use {', '.join(sorted(FILENAME_FIELDS))})"
            )
        self.url_argument = url_argument
        self.show_callback: Optional[ShowCallback] = resolve_callable(show_callback, "show_callback")
        self.profile_dir = os.fspath(profile_dir) if profile_dir else None
        self.filename = filename
        self.renderer = renderer
        self.interval = interval
        self.slow_threshold = slow_threshold
        # Why requests were served unprofiled, each warned about once.
        self._unprofiled_reasons: set[str] = set()

    @classmethod
    def from_config(cls, get: Callable[[str, Any], Any]) -> "Options":
        """Options from a settings mapping: ``get("STROBOSCOPE_URL_ARGUMENT",
        default)`` and so on, the defaults being those of ``__init__``."""
        params = inspect.signature(cls.__init__).parameters.values()
        return cls(
            **{p.name: get("STROBOSCOPE_" + p.name.upper(), p.default) for p in params if p.kind is p.KEYWORD_ONLY}
        )

    # -- deciding ----------------------------------------------------------
    def asks_for_report(self, query_string: str) -> bool:
        """Whether the query string carries the URL argument (any value)."""
        arg = self.url_argument
        if not arg or arg not in query_string:  # the common case, cheaply
            return False
        return any(name == arg for name, _ in parse_qsl(query_string, keep_blank_values=True))

    def _ask(self, request: Any, default: Optional[ShowCallback]) -> Any:
        """The show callback's (or ``default``'s) answer; False when there is
        none or it raised (logged)."""
        callback = self.show_callback or default
        if callback is None:
            return False
        try:
            return callback(request)
        except Exception:
            logger.exception("stroboscope: the show callback raised; no report for this request")
            return False

    @staticmethod
    def _granted(answer: Any) -> bool:
        try:
            return bool(answer)
        except Exception:
            logger.exception("stroboscope: the show callback's answer is not a truth value; no report")
            return False

    def may_show(self, request: Any, default: Optional[ShowCallback] = None) -> bool:
        """Asks the show callback (or ``default``); a false result, and any
        exception, is a refusal."""
        answer = self._ask(request, default)
        if inspect.isawaitable(answer):
            # A coroutine function here (WSGI, Flask, Django's sync path)
            # cannot be awaited: its truthy coroutine is no permission.
            getattr(answer, "close", lambda: None)()
            logger.warning("stroboscope: the show callback is a coroutine function, which only the "
                           "ASGI middleware can await; no report for this request")
            return False
        return self._granted(answer)

    async def may_show_async(self, request: Any, default: Optional[ShowCallback] = None) -> bool:
        """:meth:`may_show` in a coroutine: a callback that returns an
        awaitable (a coroutine function) is awaited. The callback runs on
        the event loop; it must not block."""
        answer = self._ask(request, default)
        if inspect.isawaitable(answer):
            try:
                answer = await answer
            except Exception:
                logger.exception("stroboscope: the show callback raised; no report for this request")
                return False
        return self._granted(answer)

    def served_unprofiled(self, method: str, path: str, reason: Exception) -> None:
        """Logs that a request could not be profiled: a warning the first
        time for each reason, then at debug level (under an all-threads
        profiler every request would warn otherwise)."""
        text = str(reason)
        if text in self._unprofiled_reasons:
            logger.debug("stroboscope: not profiling %s %s: %s", method, path[:200], text)
            return
        self._unprofiled_reasons.add(text)
        logger.warning(
            "stroboscope: not profiling %s %s: %s. Requests are served unprofiled while it lasts; "
            "this warning is not repeated.", method, path[:200], text,
        )  # fmt: skip

    # -- saving ------------------------------------------------------------
    def file_name(self, method: str, path: str, duration: float, when: float) -> str:
        ext = EXTENSIONS[self.renderer]
        name = self.filename.format(
            timestamp=time.strftime("%Y%m%d-%H%M%S", time.localtime(when)),
            method=_UNSAFE.sub("_", method)[:MAX_METHOD_FIELD] or "_",
            path=sanitize_path(path),
            duration=f"{duration:.3f}",
            ext=ext,
            pid=os.getpid(),
        )
        return _safe_name(name, ext)

    def save(self, session: Session, method: str, path: str, duration: float, when: float) -> Optional[str]:
        """Saves the session in the profile directory, rendered as asked,
        under a new name. Returns its path, or None (and logs a warning) if
        it could not be saved."""
        assert self.profile_dir is not None
        reserved = None
        try:
            if self.renderer == "session":
                data = None
            else:
                data = session.render(self.renderer).encode("utf-8")
            os.makedirs(self.profile_dir, mode=0o700, exist_ok=True)
            stem, suffix = _split_ext(self.file_name(method, path, duration, when), EXTENSIONS[self.renderer])
            reserved = _reserve(self.profile_dir, stem, suffix)
            if data is None:
                session.save(reserved)
            else:
                write_atomic(reserved, data)
            return reserved
        except Exception as e:  # never fail the request
            if reserved is not None:
                try:
                    os.unlink(reserved)
                except OSError:
                    pass
            logger.warning(
                "stroboscope: could not save the profile of %s %s in %s: %s",
                method, path[:200], self.profile_dir, e,
            )  # fmt: skip
            return None


def _reserve(directory: str, stem: str, suffix: str) -> str:
    """Creates an empty private file with a name nobody else holds."""
    for n in range(10_000):
        name = stem + (f"-{n}" if n else "") + suffix
        path = os.path.join(directory, name)
        try:
            # O_EXCL: a concurrent request cannot take the same name;
            # O_NOFOLLOW: nor can a planted symbolic link redirect it.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            return path
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, f"no free file name for {stem}{suffix}")


class RequestRun:
    """Profiles one request on the calling thread: :meth:`begin` starts the
    profiler (None if it cannot), :meth:`finish` stops it, saves the session
    when a profile directory asks for it, and returns the session.

    ``finish`` must run on the same thread, also when the request raised::

        run = RequestRun.begin(options, method, path)
        try:
            response = call_next()
        finally:
            session = run.finish()

    In a coroutine, :meth:`begin_in_task` profiles the calling asyncio task
    only and ``await run.finish_async()`` stops it (in the same task) and
    saves on a worker thread.
    """

    def __init__(self, options: Options, profiler: Profiler, method: str, path: str) -> None:
        self._options = options
        self._profiler = profiler
        self._method = method
        self._path = path
        self._when = time.time()
        self._started = _clock()
        self._duration = 0.0
        self._session: Optional[Session] = None
        self._stopped = False
        self._saved = False

    @classmethod
    def begin(cls, options: Options, method: str, path: str, **profiler_options: Any) -> Optional["RequestRun"]:
        # This thread only: the request's thread is the one that runs it, and
        # concurrent requests must not land in each other's profiles.
        profiler = Profiler(interval=options.interval, all_threads=False, **profiler_options)
        try:
            # The report names the request, not the server's command line;
            # the query string may hold secrets and is left out.
            profiler.start(target=f"{method} {path}")
        except ProfilerError as e:
            # Another profiler samples this thread (nested middleware) or
            # every thread (the server run under `stroboscope`).
            options.served_unprofiled(method, path, e)
            return None
        return cls(options, profiler, method, path)

    @classmethod
    def begin_in_task(cls, options: Options, method: str, path: str) -> Optional["RequestRun"]:
        """:meth:`begin` for a request served by a coroutine. Started inside
        an asyncio task, the profiler samples that task only, so requests
        sharing the event loop's thread keep their own profiles. Outside
        one (an ASGI server on trio) it would sample the whole thread, every
        concurrent request mixed in: the request is served unprofiled."""
        if _current_task() is None:
            reason = ProfilerError("the request does not run in an asyncio task, so it cannot be profiled on its own")
            options.served_unprofiled(method, path, reason)
            return None
        return cls.begin(options, method, path, async_mode="enabled")

    def stop(self) -> Optional[Session]:
        """Stops the profiler (on the thread, or in the task, that began)
        and returns the session, or None (logged) if profiling failed. Never
        raises: it runs while the view's own exception, if any, is on its
        way to the framework."""
        if self._stopped:
            return self._session
        self._stopped = True
        self._duration = _clock() - self._started
        try:
            self._session = self._profiler.stop()
        except Exception as e:
            logger.warning("stroboscope: profiling %s %s failed: %s", self._method, self._path[:200], e)
        return self._session

    def save(self) -> None:
        """Saves the stopped run's session when the profile directory and
        the slow threshold ask for it; any thread. Never raises."""
        opts = self._options
        if self._saved or self._session is None:
            return
        self._saved = True
        if opts.profile_dir and self._duration >= opts.slow_threshold:
            opts.save(self._session, self._method, self._path, self._duration, self._when)

    def finish(self) -> Optional[Session]:
        """:meth:`stop`, then :meth:`save`; never raises."""
        session = self.stop()
        self.save()
        return session

    async def finish_async(self) -> Optional[Session]:
        """:meth:`finish` in the task that began: stops here, saves on a
        worker thread (writing a file must not hold up the event loop)."""
        session = self.stop()
        if session is not None and self._options.profile_dir:
            await in_thread(self.save)
        return session


async def in_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Runs ``func(*args)`` on the event loop's default executor."""
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


def render_report(session: Optional[Session], method: str, path: str) -> Optional[bytes]:
    """The HTML report served for ``?profile``, or None (logged) when there
    is none to serve: the caller then sends the normal response."""
    if session is None:
        return None  # finish() said why
    try:
        return session.render("html").encode("utf-8")
    except Exception:
        logger.exception("stroboscope: could not render the report of %s %s", method, path[:200])
        return None


REPORT_CONTENT_TYPE = "text/html; charset=utf-8"
# Reports are about the server: no cache should keep or share one.
REPORT_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
