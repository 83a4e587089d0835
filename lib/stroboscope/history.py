"""Every command-line run's session, kept per user so it can be reloaded.

Sessions live in ``$XDG_DATA_HOME/stroboscope/sessions`` (default
``~/.local/share/stroboscope/sessions``); the newest ``KEEP`` are kept. An id
looks like ``20261124-235900-12345-0`` (date, time, process id, counter): it
is unique even for runs in the same second, and only strings of that shape
are accepted as ids, so an id can never name a path outside the directory.
"""

from __future__ import annotations

import os
import re
import time
from typing import NamedTuple, Optional

from .session import SESSION_SUFFIX, Session, SessionLoadError, write_atomic

KEEP = 10
_ID = re.compile(r"\A[0-9]{8}-[0-9]{6}-[0-9]{1,10}-[0-9]{1,6}\Z")


class Entry(NamedTuple):
    id: str
    path: str
    mtime_ns: int


def directory() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "stroboscope", "sessions")


def path_for(session_id: str) -> str:
    """The file of a saved session; ValueError for anything not an id."""
    if not _ID.match(session_id):
        raise ValueError(f"{session_id!r} is not a session id (see --list-prev)")
    return os.path.join(directory(), session_id + SESSION_SUFFIX)


def entries() -> list[Entry]:
    """Saved sessions, oldest first."""
    d = directory()
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        stem = name[: -len(SESSION_SUFFIX)] if name.endswith(SESSION_SUFFIX) else None
        if stem and _ID.match(stem):
            path = os.path.join(d, name)
            try:
                out.append(Entry(stem, path, os.stat(path).st_mtime_ns))
            except FileNotFoundError:
                continue
    out.sort(key=lambda e: (e.mtime_ns, e.id))
    return out


def save(session: Session) -> str:
    """Saves the session under a new id, drops the oldest beyond KEEP, and
    returns the id."""
    d = directory()
    os.makedirs(d, mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(session.start_time or time.time()))
    for n in range(1_000_000):
        session_id = f"{stamp}-{os.getpid()}-{n}"
        path = os.path.join(d, session_id + SESSION_SUFFIX)
        try:
            # O_EXCL reserves the name: a concurrent run cannot take it.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - a million runs in one second from one pid
        raise OSError("no free session id")
    try:
        write_atomic(path, session._data.to_bytes())
    except BaseException:
        os.unlink(path)
        raise
    for old in entries()[:-KEEP]:
        try:
            os.unlink(old.path)
        except FileNotFoundError:
            pass
    return session_id


def load(session_id: Optional[str] = None) -> Session:
    """A saved session by id, or the newest one."""
    if session_id is None:
        saved = entries()
        if not saved:
            raise SessionLoadError(directory(), "", "no saved sessions yet")
        return Session.load(saved[-1].path)
    return Session.load(path_for(session_id))


def listing() -> list[str]:
    """One line per saved session, oldest first: id, date, duration, command."""
    lines = []
    for e in entries():
        try:
            s = Session.load(e.path)
        except SessionLoadError as err:
            lines.append(f"{e.id}  (unreadable: {err.reason})")
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.start_time))
        lines.append(f"{e.id}  {when}  {s.duration:8.3f} s  {s.target or ''}")
    return lines
