"""Following child processes: every Python child of a followed program
profiles itself and saves its session as ``<pid>.strobe`` in a directory the
parent chose (docs/children.md).

How a child is reached:

- fork (``os.fork``, multiprocessing's ``fork`` and ``forkserver`` children):
  an ``os.register_at_fork`` hook starts a fresh Profiler in the child, with
  the parent's settings. The child saves at exit (atexit) or when it calls
  ``os._exit``, which multiprocessing's fork children always do.
- a new interpreter (``subprocess`` running Python, multiprocessing's
  ``spawn``): the parent puts the settings in ``STROBOSCOPE_FOLLOW`` and
  ``_follow/`` first on ``PYTHONPATH``; ``_follow/sitecustomize.py`` calls
  :func:`boot` at startup, which starts profiling and saves at exit.

Both are inherited, so children of children are followed too.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shlex
import sys
import threading  # its own at-fork hook must run before ours
import time
from typing import Any, Optional

from .session import SESSION_SUFFIX, Session, SessionLoadError, write_atomic

#: The environment variable that carries the settings to new interpreters.
ENV = "STROBOSCOPE_FOLLOW"
#: The directory whose sitecustomize.py starts profiling in a new interpreter.
BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_follow")

# Directories of command-line runs without -o, kept in the history directory.
KEEP = 10
_RUN_ID = re.compile(r"\A[0-9]{8}-[0-9]{6}-[0-9]{1,10}-[0-9]{1,6}\Z")

# What this process does for its children: None, or the settings dict
# ({"dir", "interval", "all_threads", "timeline"}).
_settings: Optional[dict] = None
# This process's own profiler, when it is a followed child.
_profiler: Any = None
_owner_pid = 0
_origin = ""  # "fork of pid N" or "" for a new interpreter
_hook_installed = False
_real_exit = os._exit
_saving = False


# -- the parent ---------------------------------------------------------------

def settings(directory: str, interval: float, all_threads: bool, timeline: bool) -> dict:
    return {
        "dir": os.path.abspath(directory),
        "interval": float(interval),
        "all_threads": bool(all_threads),
        "timeline": bool(timeline),
    }


def start_following(new: dict) -> tuple:
    """Makes every child started from now on profile itself with these
    settings; returns the token :func:`stop_following` needs."""
    global _settings
    os.makedirs(new["dir"], exist_ok=True)
    value = json.dumps(new, sort_keys=True)
    old_path = os.environ.get("PYTHONPATH")
    # An empty entry would put the current directory on the child's sys.path.
    path = BOOT_DIR + os.pathsep + old_path if old_path else BOOT_DIR
    token = (_settings, (ENV, value, os.environ.get(ENV)), ("PYTHONPATH", path, old_path))
    os.environ[ENV] = value
    os.environ["PYTHONPATH"] = path
    _settings = new
    _install_fork_hook()
    return token


def stop_following(token: tuple) -> None:
    """Puts back what start_following changed, except a variable the program
    has set since: its value is the program's now."""
    global _settings
    previous, *variables = token
    _settings = previous
    for name, ours, old in variables:
        if os.environ.get(name) != ours:
            continue
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def sessions_in(directory: str, exclude_pid: Optional[int] = None) -> list[str]:
    """The session files in a followed run's directory, sorted."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    skip = f"{exclude_pid}{SESSION_SUFFIX}" if exclude_pid is not None else None
    return sorted(
        os.path.join(directory, n)
        for n in names
        if n.endswith(SESSION_SUFFIX) and not n.startswith(".") and n != skip
    )


def clear(directory: str) -> None:
    """Removes the session files an earlier run left in directory."""
    for path in sessions_in(directory):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def new_run_directory(base: str) -> str:
    """A new directory under base for one run's children (``date-time-pid-n``);
    the newest KEEP are kept."""
    import shutil

    os.makedirs(base, mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1_000_000):
        path = os.path.join(base, f"{stamp}-{os.getpid()}-{n}")
        try:
            os.mkdir(path, 0o700)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover
        raise OSError("no free directory name")
    runs = []
    for name in os.listdir(base):
        if _RUN_ID.match(name):
            try:
                runs.append((os.stat(os.path.join(base, name)).st_mtime_ns, name))
            except FileNotFoundError:
                pass
    for _, name in sorted(runs)[:-KEEP]:
        if os.path.join(base, name) != path:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    return path


def load_combined(paths: list[str]) -> Session:
    """The sessions in these files (a directory stands for its session
    files), combined into one; the earliest started comes first."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sessions_in(path)
            if not found:
                raise SessionLoadError(path, "", f"no session files (*{SESSION_SUFFIX}) in this directory")
            files.extend(found)
        else:
            files.append(path)
    sessions = sorted((Session.load(f) for f in files), key=lambda s: s.start_time)
    combined = sessions[0]
    for other in sessions[1:]:
        combined = Session.combine(combined, other)
    if len(sessions) > 1:
        combined.target = f"{sessions[0].target or ''} + {len(sessions) - 1} more session(s)".lstrip()
    return combined


# -- the child ----------------------------------------------------------------

def boot() -> None:
    """Called by _follow/sitecustomize.py when a new interpreter starts with
    STROBOSCOPE_FOLLOW set: profile this process and follow its children."""
    global _settings
    new = _parse(os.environ.get(ENV))
    if new is None:
        return
    _settings = new
    _install_fork_hook()
    command = getattr(sys, "orig_argv", sys.argv)
    # multiprocessing's helpers (3.10+ shows their code) live as long as the
    # parent and do no work of the program's; their forks are followed.
    if any("multiprocessing.resource_tracker" in a or "multiprocessing.forkserver" in a for a in command):
        return
    _begin("")


def _is_multiprocessing_helper() -> bool:
    """Whether this process is multiprocessing's resource tracker or fork
    server, known by the function its ``-c`` command ran. Before 3.10 there
    is no sys.orig_argv to tell them apart at start, so they are profiled
    and this keeps their session out of the children's."""
    main = getattr(sys.modules.get("__main__"), "main", None)
    return getattr(main, "__module__", None) in ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _parse(text: Optional[str]) -> Optional[dict]:
    try:
        d = json.loads(text or "")
        new = settings(d["dir"], d["interval"], d["all_threads"], d["timeline"])
    except (ValueError, TypeError, KeyError):
        return None
    return new if isinstance(d["dir"], str) and 0.0001 <= new["interval"] <= 10.0 else None


def _install_fork_hook() -> None:
    global _hook_installed
    if not _hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _hook_installed = True


def _after_fork_in_child() -> None:
    if _settings is None:
        return
    try:
        module = sys._getframe(1).f_globals.get("__name__", "")
    except ValueError:  # no Python caller
        module = ""
    if module == "subprocess":
        return  # a preexec_fn runs in this child, then exec: nothing to profile
    try:
        _begin(f"fork of pid {os.getppid()}")
        os._exit = _exit_after_saving
    except Exception:
        pass


def _begin(origin: str) -> None:
    global _profiler, _owner_pid, _origin
    from .profiler import Profiler

    assert _settings is not None
    p = Profiler(_settings["interval"], all_threads=_settings["all_threads"], timeline=_settings["timeline"])
    p.start()
    _profiler, _owner_pid, _origin = p, os.getpid(), origin
    atexit.unregister(_save)  # a forked child inherits its parent's registration
    atexit.register(_save)


@functools.wraps(_real_exit)
def _exit_after_saving(status: int) -> None:
    _save()
    _real_exit(status)


def step_aside(other: Any) -> bool:
    """Stops and saves this child's own profiler so that the program's
    ``other`` can start; False if there is none running here."""
    if _profiler is None or _profiler is other or _owner_pid != os.getpid() or not _profiler.is_running:
        return False
    _save()
    return True


def _save() -> None:
    """Stops this child's profiler and writes its session; at most once."""
    global _saving
    if _saving:
        return
    _saving = True
    try:
        _stop_and_write()
    finally:
        _saving = False


def _stop_and_write() -> None:
    global _profiler
    p, _profiler = _profiler, None
    if p is None or _owner_pid != os.getpid() or _settings is None:
        return
    try:
        session = p.stop()
    except Exception:  # stopped from another thread: nothing to save
        return
    if _is_multiprocessing_helper():
        return
    pid = os.getpid()
    if _origin:
        command = " ".join(sys.argv) + f" ({_origin})"
    else:
        command = shlex.join(getattr(sys, "orig_argv", sys.argv))
    session.target = f"pid {pid}: {command}"
    directory = _settings["dir"]
    try:
        write_atomic(_free_path(directory, pid), session._data.to_bytes())
    except OSError as e:
        try:
            print(f"stroboscope: could not save the profile of process {pid} in {directory}: {e.strerror or e}",
                  file=sys.__stderr__)
        except Exception:
            pass


def _free_path(directory: str, pid: int) -> str:
    """<pid>.strobe, or <pid>-N.strobe if a process with this pid (reused)
    saved there before."""
    path = os.path.join(directory, f"{pid}{SESSION_SUFFIX}")
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(directory, f"{pid}-{n}{SESSION_SUFFIX}")
    return path
