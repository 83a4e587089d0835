"""Session: one profiling run (metadata, frame table, call tree) and its views.

The call tree lives in C (``_core.SessionData``); this module decides which
frames count as library code and which the user asked to hide or show, and
hands those flags to the C renderers, so every renderer agrees on the view.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import site
import sys
import sysconfig
from typing import Iterable, Optional, Sequence

from . import _core

__all__ = ["Session", "SessionLoadError", "ViewOptions", "library_prefixes"]

#: The extension of session files (``-r session``, ``Session.save``).
SESSION_SUFFIX = ".strobe"
# Larger files are refused before they are read (the C loader's own limit).
MAX_SESSION_BYTES = 256 << 20


class SessionLoadError(ValueError):
    """A session file could not be loaded. The message names the file and,
    where it applies, the field: ``run.strobe: nodes[3][0]: parent 7 is not an
    earlier node``."""

    def __init__(self, path: str, field: str, message: str) -> None:
        self.path = path
        self.field = field
        self.reason = message
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + message)

FLAG_LIBRARY = 1
FLAG_HIDE = 2
FLAG_SHOW = 4
FLAG_FOCUS = 8

# The label of a thread's root in an all-threads session: "name (tid N)".
_THREAD_LABEL = re.compile(r"(.*) \(tid (\d+)\)\Z", re.S)

RENDERERS = ("text", "json", "html", "session")


def library_prefixes() -> list[str]:
    """Directories whose code is library code: the interpreter's prefixes,
    the standard library and every site-packages directory."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(path)
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # some virtualenvs lack it
        pass
    user_site = getattr(site, "USER_SITE", None)
    if user_site:
        dirs.add(user_site)
    out = []
    for d in dirs:
        if d:
            d = os.path.realpath(d)
            out.append(d.rstrip(os.sep) + os.sep)
    return sorted(set(out))


def _is_library(file: str, kind: str, prefixes: Sequence[str]) -> bool:
    if kind != "python":
        return False  # C functions are leaves worth seeing (time.sleep)
    if file.startswith("<frozen "):
        return True
    if "site-packages" + os.sep in file or "dist-packages" + os.sep in file:
        return True
    real = os.path.realpath(file) if os.path.isabs(file) else file
    return any(real.startswith(p) or file.startswith(p) for p in prefixes)


def _thread_matches(label: str, which: str) -> bool:
    m = _THREAD_LABEL.match(label)
    return m is not None and which in (m.group(1), m.group(2))


def threads_of(frames: Sequence[tuple]) -> list:
    """(name, tid) of each thread root among these frames."""
    out = []
    for name, _file, _line, kind in frames:
        m = _THREAD_LABEL.match(name) if kind == "synthetic" else None
        if m:
            out.append((m.group(1), int(m.group(2))))
    return out


class ViewOptions:
    """What a report shows; the same options drive every renderer."""

    def __init__(
        self,
        *,
        show_all: bool = False,
        hide: Iterable[str] = (),
        show: Iterable[str] = (),
        hide_regex: Iterable[str] = (),
        show_regex: Iterable[str] = (),
        threshold: float = 1.0,
        time: str = "wall",
        collapse_recursion: bool = True,
        thread: Optional[str] = None,
    ) -> None:
        if not (0.0 <= threshold <= 100.0):
            raise ValueError("threshold is a percentage between 0 and 100")
        if time not in ("wall", "cpu"):
            raise ValueError("time must be 'wall' or 'cpu'")
        self.show_all = show_all
        self.hide = list(hide)
        self.show = list(show)
        # Compile now so a bad pattern is reported before any work is done.
        self.hide_regex = [re.compile(p) for p in hide_regex]
        self.show_regex = [re.compile(p) for p in show_regex]
        self.threshold = threshold
        self.time = time
        self.collapse_recursion = collapse_recursion
        #: show only this thread (its name or tid) of an all-threads session
        self.thread = thread

    @property
    def explicit(self) -> bool:
        """Whether any option differs from the defaults (the HTML page then
        opens with these rather than with the settings it remembers)."""
        return bool(self.show_all or self.hide or self.show or self.hide_regex
                    or self.show_regex or self.threshold != 1.0
                    or self.time != "wall" or not self.collapse_recursion
                    or self.thread is not None)

    def to_json(self) -> str:
        """The options as the HTML page reads them (docs/html-report.md)."""
        return json.dumps({
            "show_all": self.show_all, "hide": self.hide, "show": self.show,
            "hide_regex": [r.pattern for r in self.hide_regex],
            "show_regex": [r.pattern for r in self.show_regex],
            "threshold": self.threshold, "time": self.time,
            "collapse_recursion": self.collapse_recursion,
            "thread": self.thread,
            "explicit": self.explicit,
        })

    def frame_flags(self, frames: Sequence[tuple], prefixes: Optional[Sequence[str]] = None) -> bytes:
        prefixes = library_prefixes() if prefixes is None else prefixes
        flags = bytearray(len(frames))
        for i, (name, file, _line, kind) in enumerate(frames):
            f = 0
            if _is_library(file, kind, prefixes):
                f |= FLAG_LIBRARY
            if any(fnmatch.fnmatchcase(file, g) for g in self.hide) or any(
                r.search(file) for r in self.hide_regex
            ):
                f |= FLAG_HIDE
            if any(fnmatch.fnmatchcase(file, g) for g in self.show) or any(
                r.search(file) for r in self.show_regex
            ):
                f |= FLAG_SHOW
            if self.thread is not None and kind == "synthetic" and _thread_matches(name, self.thread):
                f |= FLAG_FOCUS
            flags[i] = f
        return bytes(flags)


class Session:
    """A finished profiling run. Render it with :meth:`render` (or
    :meth:`output_text`); its numbers are in seconds."""

    def __init__(self, data: "_core.SessionData") -> None:
        self._data = data

    # -- files ----------------------------------------------------------------
    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write the session file atomically: a temporary file in the same
        directory, flushed to disk, then renamed over ``path``."""
        write_atomic(os.fspath(path), self._data.to_bytes())

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "Session":
        """Load a session file, or a pyinstrument ``.pyisession`` file.
        Everything is checked here, at load time; any problem raises
        :class:`SessionLoadError` naming the file and the field."""
        path = os.fspath(path)
        try:
            size = os.stat(path).st_size
            if size > MAX_SESSION_BYTES:
                raise SessionLoadError(path, "", f"{size} bytes is more than the {MAX_SESSION_BYTES} a session may have")
            with open(path, "rb") as f:
                data = f.read(MAX_SESSION_BYTES + 1)
        except OSError as e:
            raise SessionLoadError(path, "", e.strerror or str(e)) from None
        if _is_pyisession(path, data):
            return cls._load_pyisession(path, data)
        try:
            return cls(_core.load_session(data))
        except _core.SessionLoadError as e:
            field, message = e.args
            raise SessionLoadError(path, field, message) from None

    @classmethod
    def _load_pyisession(cls, path: str, data: bytes) -> "Session":
        import json

        from .pyisession import load_pyisession

        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise SessionLoadError(path, "", f"not a pyinstrument session: {e}") from None
        try:
            return cls(load_pyisession(doc, path))
        except ValueError as e:
            raise SessionLoadError(path, "", str(e)) from None

    @classmethod
    def combine(cls, a: "Session", b: "Session") -> "Session":
        """A new session with the samples and time of both."""
        data = _core.new_session()
        data.merge(a._data)
        data.merge(b._data)
        return cls(data)

    # -- metadata -----------------------------------------------------------
    @property
    def start_time(self) -> float:
        return self._data.start_time

    @property
    def duration(self) -> float:
        return self._data.duration

    @property
    def cpu_time(self) -> float:
        return self._data.cpu_time

    @property
    def sample_count(self) -> int:
        return self._data.sample_count

    @property
    def interval(self) -> float:
        return self._data.interval

    @property
    def python_version(self) -> Optional[str]:
        return self._data.python_version

    @property
    def mechanism(self) -> Optional[str]:
        """How sampling was re-armed on this Python ("signal+setprofile" or
        "pending-call")."""
        return self._data.mechanism

    @property
    def target(self) -> Optional[str]:
        return self._data.target

    @target.setter
    def target(self, value: Optional[str]) -> None:
        self._data.target = value

    @property
    def errors(self) -> list[str]:
        """Anything that went wrong while sampling."""
        return self._data.errors

    def frames(self) -> list[tuple]:
        """(name, file, first_line, kind) for every frame id."""
        return self._data.frames()

    @property
    def threads(self) -> list:
        """(name, tid) of every thread an all-threads session sampled (empty
        for a single-thread session)."""
        return threads_of(self._data.frames())

    # -- rendering ----------------------------------------------------------
    def render(
        self,
        renderer: str = "text",
        view: Optional[ViewOptions] = None,
        *,
        unicode: bool = True,
        color: bool = False,
        **view_kwargs,
    ) -> str:
        """Render as ``"text"``, ``"json"`` or ``"html"`` (one self-contained
        page), or as ``"session"`` (the session file's text). View options
        (show_all, hide, show, hide_regex, show_regex, threshold in percent,
        time) may be given as a ViewOptions or as keywords; the HTML page
        opens with them and lets the reader change them.

        Library code is recognised by the path prefixes the session recorded
        (the recording interpreter's), so a loaded session groups frames as
        the run that made it did; a session without any uses this
        interpreter's."""
        if renderer not in RENDERERS:
            raise ValueError(f"unknown renderer {renderer!r} (choose from {', '.join(RENDERERS)})")
        if renderer == "session":
            return self._data.to_bytes().decode("utf-8")
        if view is None:
            view = ViewOptions(**view_kwargs)
        elif view_kwargs:
            raise TypeError("give view options either as a ViewOptions or as keywords")
        prefixes = self._data.library_prefixes or None
        flags = view.frame_flags(self._data.frames(), prefixes)
        return self._data.render(
            renderer,
            flags=flags,
            threshold=view.threshold / 100.0,
            show_all=view.show_all,
            time=view.time,
            unicode=unicode,
            color=color,
            collapse_recursion=view.collapse_recursion,
            options_json=view.to_json() if renderer == "html" else None,
        )

    def output_text(self, unicode: bool = False, color: bool = False, show_all: bool = False, **view_kwargs) -> str:
        return self.render("text", unicode=unicode, color=color, show_all=show_all, **view_kwargs)

    def output_json(self, **view_kwargs) -> str:
        return self.render("json", **view_kwargs)

    def output_html(self, **view_kwargs) -> str:
        return self.render("html", **view_kwargs)

    @property
    def library_prefixes(self) -> list:
        return self._data.library_prefixes

    @property
    def timeline(self) -> Optional[list]:
        """(seconds since start, leaf node id) per recorded sample, when the
        profiler ran with ``timeline=True``; else None."""
        return self._data.timeline


def _is_pyisession(path: str, data: bytes) -> bool:
    """pyinstrument's session files: by extension, or by their key."""
    if path.endswith(".pyisession"):
        return True
    head = data[:4096]
    return b'"frame_records"' in head and b'"stroboscope-session"' not in head


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_atomic(path: str, data: bytes) -> None:
    """Write data to path so that a crash leaves either the old file or the
    new one, never half of one."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".stroboscope-", suffix=".tmp")
    try:
        # mkstemp makes the file private; give it the mode a plain open()
        # would (or the mode of the file it replaces).
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
