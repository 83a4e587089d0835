"""The command line: ``stroboscope [options] (script.py | -m module | -c command) [args]``.

The program runs as it would under plain ``python`` (same ``sys.argv``,
``sys.path[0]``, ``__main__`` module and exit status) while the profiler
samples it; the report then goes to stderr or to ``-o PATH``.

Decisions worth knowing:
- "Could not start" (bad option, missing script or module, unwritable
  report directory) is one line on stderr and exit status 2, also for a
  missing ``-m`` module, where python itself exits with 1.
- A script with a syntax error ends as under python: the error, exit 1,
  no report (nothing ran).
- The report follows the program's last words (its traceback or
  ``sys.exit`` message) and goes to the process's stderr, wherever the
  program left ``sys.stderr``.
- ``-o PATH`` is written atomically (a temporary file, then a rename); if it
  cannot be written, one line says why and a program that succeeded exits 2.
- Only the process that started profiling reports: a forked child that
  returns or calls ``sys.exit`` exits silently with its own status.
- An uncaught KeyboardInterrupt: traceback, report, the program's atexit
  handlers, then death by SIGINT, as python does (the shell sees 130).
- ``os._exit`` ends the process at once: no report can be written.
- ``--subprocess`` follows child processes (fork, multiprocessing,
  ``subprocess`` running Python): each saves ``<pid>.strobe`` in
  ``<outfile>.children/``, or without ``-o`` in a directory of its own under
  the history directory, where this process's session goes too; one line
  after the report names it (docs/children.md).
- Not supported: a directory or zip file as the script, or ``-`` (stdin).
"""

from __future__ import annotations

import argparse
import atexit
import builtins
import importlib.machinery
import io
import math
import os
import re
import runpy
import shlex
import signal
import sys
import types
from typing import NoReturn, Optional, Sequence

from . import Profiler, ProfilerError, __version__, children, history
from .profiler import _stream_wants_color, _stream_wants_unicode, open_html_in_browser
from .session import SESSION_SUFFIX, Session, SessionLoadError, write_atomic

PROG = "stroboscope"
MIN_INTERVAL = 0.0001  # 0.1 ms, the Sampler's own minimum (docs/engine.md)
MAX_INTERVAL = 10.0

# Options that take a value: the program's command line starts at the first
# word that is neither one of our options nor such an option's value.
_VALUE_OPTIONS = frozenset(
    (
        "-i", "--interval", "-o", "--outfile", "-r", "--renderer",
        "--hide", "--show", "--hide-regex", "--show-regex", "--threshold", "--time",
        "--load", "--thread",
    )
)  # fmt: skip


class _CannotStart(Exception):
    """Raised (and reported on one line, exit 2) when the program cannot be run."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _fail(message)


def _fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_INTERVAL} and {MAX_INTERVAL:g} seconds, got {text!r}"
        )
    return value


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"must be a percentage between 0 and 100, got {text!r}")
    return value


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"invalid regular expression {text!r}: {e}") from None
    return text


def _make_parser() -> _Parser:
    p = _Parser(
        prog=PROG,
        usage=f"{PROG} [options] (script.py | -m module | -c command) [args ...]",
        description="Run a Python program under the stroboscope sampling profiler and "
        "print where its time went. Options end at the script, -m or -c: "
        "everything after belongs to the program.",
        epilog="The report goes to stderr unless -o is given, so the program's stdout "
        "stays clean. Exit status: the program's own; 2 if it could not be started. "
        "A program that ends with os._exit() gets no report.",
        allow_abbrev=False,
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "-i", "--interval", type=_interval, default=0.001, metavar="SECONDS",
        help=f"time between samples (default 0.001; {MIN_INTERVAL} to {MAX_INTERVAL:g})",
    )  # fmt: skip
    p.add_argument(
        "-o", "--outfile", metavar="PATH",
        help=f"write the report to PATH (renderer from the extension: .json is JSON, "
        f".html HTML, {SESSION_SUFFIX} a session file, anything else text)",
    )  # fmt: skip
    p.add_argument(
        "-r", "--renderer", choices=("text", "json", "html", "session"),
        help="report format (overrides the extension); html without -o opens the report in the browser",
    )  # fmt: skip
    p.add_argument("--open", action="store_true", help="open the report in the default browser (HTML)")
    p.add_argument("--timeline", action="store_true", help="also record when each sample was taken")
    p.add_argument(
        "--load", action="append", metavar="FILE",
        help="render a saved session (or a pyinstrument .pyisession) instead of running; "
        "repeated, or a directory of session files, they are merged into one report",
    )  # fmt: skip
    p.add_argument(
        "--load-prev", nargs="?", const="", metavar="ID",
        help="render a previous run's session: the latest, or the one with this id",
    )  # fmt: skip
    p.add_argument("--list-prev", action="store_true", help="list the previous runs that can be reloaded")
    p.add_argument("--no-save", action="store_true", help="do not keep this run's session for --load-prev")
    p.add_argument("--show-all", action="store_true", help="show library frames too")
    p.add_argument(
        "--hide", action="append", default=[], metavar="GLOB", help="hide frames whose file path matches (repeatable)"
    )
    p.add_argument(
        "--show", action="append", default=[], metavar="GLOB", help="show frames whose file path matches (repeatable)"
    )
    p.add_argument("--hide-regex", action="append", default=[], type=_regex, metavar="REGEX", help="like --hide, a regex")
    p.add_argument("--show-regex", action="append", default=[], type=_regex, metavar="REGEX", help="like --show, a regex")
    p.add_argument(
        "--threshold", type=_percent, default=1.0, metavar="PERCENT",
        help="hide nodes under this share of the total time (default 1)",
    )  # fmt: skip
    p.add_argument("--time", choices=("wall", "cpu"), default="wall", help="which time to report (default wall)")
    p.add_argument(
        "--main-thread", action="store_true",
        help="sample only the program's main thread (default: every thread, each under its own root)",
    )  # fmt: skip
    p.add_argument("--thread", metavar="NAME_OR_TID", help="show only this thread (its name or tid)")
    p.add_argument(
        "--subprocess", action="store_true",
        help="also profile child processes (fork, multiprocessing, subprocess running Python), "
        "each to its own session file, listed after the report",
    )  # fmt: skip
    p.add_argument(
        "--color", action=argparse.BooleanOptionalAction,
        help="ANSI colours (default: when stderr is a terminal and NO_COLOR is unset)",
    )  # fmt: skip
    p.add_argument(
        "--unicode", action=argparse.BooleanOptionalAction,
        help="box-drawing characters (default: when the output encoding is UTF)",
    )  # fmt: skip
    return p


def _split_argv(argv: list[str]) -> tuple[list[str], Optional[str], list[str]]:
    """Splits argv into (our options, kind, [name, *program args]); kind is
    "script", "-m", "-c" or None when no program was given."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[:i], "script", argv[i + 1 :]
        if arg[:2] in ("-m", "-c"):  # "-m name" or "-mname", like python
            rest = argv[i + 1 :]
            return argv[:i], arg[:2], [arg[2:], *rest] if arg[2:] else rest
        if not arg.startswith("-") or arg == "-":
            return argv[:i], "script", argv[i:]
        if arg == "--load-prev":
            # Its id is optional; a word after it is that id (nothing runs).
            i += 2 if i + 1 < len(argv) and not argv[i + 1].startswith("-") else 1
            continue
        i += 2 if arg in _VALUE_OPTIONS else 1
    return argv, None, []


def _set_argv_and_path(argv: list[str], path0: str) -> None:
    sys.argv[:] = argv
    # Under -P, PYTHONSAFEPATH or -I python adds no program directory, and
    # sys.path[0] is not ours to replace.
    if not (getattr(sys.flags, "safe_path", False) or sys.flags.isolated):
        sys.path[0] = path0


def _exit_uncompilable(exc: BaseException) -> NoReturn:
    """A program that does not compile ends as under python: the error, status 1."""
    sys.excepthook(type(exc), exc.with_traceback(None), None)  # no frames of ours
    sys.exit(1)


def _compile(source: str | bytes, filename: str) -> types.CodeType:
    try:
        # dont_inherit: this file's __future__ imports are not the program's.
        return compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:  # ValueError: null bytes, before 3.12
        _exit_uncompilable(e)


def _prepare(kind: str, name: str, args: list[str]) -> tuple[types.CodeType, dict]:
    """Sets sys.argv and sys.path[0] as python would for this program and
    returns its code and the attributes of its __main__ module."""
    if kind == "-c":
        _set_argv_and_path(["-c", *args], "")
        code = _compile(name, "<string>")
        return code, {"__loader__": importlib.machinery.BuiltinImporter, "__package__": None, "__spec__": None}
    if kind == "-m":
        # sys.argv[0] is "-m" while the module is found, as under python.
        _set_argv_and_path(["-m", *args], os.getcwd())
        try:
            # Private, but stable since 3.4: what `python -m` itself uses to find
            # the code (pkg runs pkg.__main__) without running it.
            _, spec, code = runpy._get_module_details(name, _CannotStart)  # type: ignore[attr-defined]
        except SyntaxError as e:
            _exit_uncompilable(e)
        sys.argv[0] = spec.origin
        attrs = {
            "__file__": spec.origin,
            "__cached__": spec.cached,
            "__loader__": spec.loader,
            "__package__": spec.parent,
            "__spec__": spec,
        }
        return code, attrs
    try:
        with io.open_code(name) as f:
            source = f.read()
    except OSError as e:
        raise _CannotStart(f"can't open file {name!r}: [Errno {e.errno}] {e.strerror}") from None
    path = os.path.abspath(name)  # python 3.9+ gives __main__ an absolute __file__
    _set_argv_and_path([name, *args], os.path.dirname(os.path.realpath(name)))
    attrs = {
        "__file__": path,
        "__cached__": None,
        "__loader__": importlib.machinery.SourceFileLoader("__main__", path),
        "__package__": None,
        "__spec__": None,
    }
    return _compile(source, path), attrs


def _fresh_main(attrs: dict) -> dict:
    """Installs a new __main__ module, as runpy does, and returns its globals."""
    main = types.ModuleType("__main__")
    main.__dict__.update(__builtins__=builtins, **attrs)
    sys.modules["__main__"] = main
    return main.__dict__


def _run(code: types.CodeType, main_globals: dict) -> Optional[BaseException]:
    """Runs the program; returns the exception that ended it, if any, with a
    traceback that starts in the program."""
    try:
        exec(code, main_globals)
    except BaseException as e:
        return e.with_traceback(e.__traceback__.tb_next if e.__traceback__ else None)
    return None


def _exit_status(exc: Optional[BaseException]) -> int:
    """Prints how the program ended, as python would, and returns its status."""
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    sys.excepthook(type(exc), exc, exc.__traceback__)
    return 1


def _flush(stream: Optional[io.TextIOBase]) -> None:
    try:
        stream.flush()  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):  # None, a closed pipe, a closed file
        pass


def _die_by_sigint() -> None:
    """Ends the process as python does after an uncaught KeyboardInterrupt, so
    the shell sees a death by SIGINT. Registered before the program runs, so it
    runs after the program's own atexit handlers."""
    _flush(sys.stdout)
    _flush(sys.stderr)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def _report(session, args: argparse.Namespace, renderer: str) -> bool:
    """Renders the session where the options say; False if it could not be written."""
    view = {
        "show_all": args.show_all,
        "hide": args.hide,
        "show": args.show,
        "hide_regex": args.hide_regex,
        "show_regex": args.show_regex,
        "threshold": args.threshold,
        "time": args.time,
        "thread": args.thread,
    }
    if args.thread is not None and not any(args.thread in (name, str(tid)) for name, tid in session.threads):
        known = ", ".join(f"{name} (tid {tid})" for name, tid in session.threads) or "none recorded"
        print(f"{PROG}: error: no thread named or numbered {args.thread!r} in this session (threads: {known})",
              file=sys.__stderr__)
        return False
    if args.outfile is None and renderer == "html":
        path = open_html_in_browser(session.render(renderer, **view))
        print(f"{PROG}: html report written to {path}", file=sys.__stderr__)
        return True
    if args.outfile is None:
        stream = sys.__stderr__  # the process's stderr, wherever the program left sys.stderr
        unicode = _stream_wants_unicode(stream) if args.unicode is None else args.unicode
        color = _stream_wants_color(stream) if args.color is None else args.color
        text = session.render(renderer, unicode=unicode, color=color, **view)
        _flush(sys.stdout)
        _flush(sys.stderr)
        stream.write(text)
        stream.flush()
        return True
    unicode = True if args.unicode is None else args.unicode
    text = session.render(renderer, unicode=unicode, color=bool(args.color), **view)
    try:
        write_atomic(args.outfile, text.encode("utf-8", "backslashreplace"))
    except OSError as e:
        print(f"{PROG}: error: can't write report to {args.outfile!r}: {e.strerror}", file=sys.__stderr__)
        return False
    print(f"{PROG}: {renderer} report written to {args.outfile}", file=sys.__stderr__)
    if args.open:
        import webbrowser

        webbrowser.open("file://" + os.path.abspath(args.outfile))
    return True


def _save_to_history(session: Session, announce: bool) -> None:
    """Keeps the run for --load-prev; a failure to save is reported, not fatal."""
    try:
        session_id = history.save(session)
    except OSError as e:
        print(f"{PROG}: could not keep this session in {history.directory()}: {e.strerror or e}", file=sys.__stderr__)
        return
    if announce:
        print(f"{PROG}: session {session_id} saved; show it again with: {PROG} --load-prev {session_id}",
              file=sys.__stderr__)


def _children_dir(args: argparse.Namespace) -> str:
    """Where followed children save their sessions: ``<outfile>.children/``
    (emptied of an earlier run's sessions), else a new directory for this run
    under the history directory."""
    try:
        if args.outfile is not None:
            path = args.outfile + ".children"
            os.makedirs(path, exist_ok=True)
            children.clear(path)
            return path
        return children.new_run_directory(os.path.join(history.directory(), "children"))
    except OSError as e:
        _fail(f"can't make a directory for the child processes' sessions: {e}")


def _list_children(session: Session, directory: str, announce: bool) -> None:
    """Saves this process's session beside its children's and says where they are."""
    try:
        session.save(os.path.join(directory, f"{os.getpid()}{SESSION_SUFFIX}"))
    except OSError as e:
        print(f"{PROG}: could not save this session in {directory}: {e.strerror or e}", file=sys.__stderr__)
    if not announce:
        return
    n = len(children.sessions_in(directory, exclude_pid=os.getpid()))
    if n == 0:
        print(f"{PROG}: no child process was profiled (only Python children are followed)", file=sys.__stderr__)
        return
    print(f"{PROG}: {n} child process{'es' if n != 1 else ''} profiled, sessions in {directory}; "
          f"all processes in one report: {PROG} --load {shlex.quote(directory)}", file=sys.__stderr__)


def _renderer(args: argparse.Namespace) -> str:
    if args.renderer:
        return args.renderer
    out = (args.outfile or "").lower()
    if out.endswith(".json"):
        return "json"
    if out.endswith((".html", ".htm")):
        return "html"
    return "session" if out.endswith(SESSION_SUFFIX) else "text"


def _check_outfile(args: argparse.Namespace) -> None:
    if args.outfile is not None:
        directory = os.path.dirname(args.outfile) or "."
        if os.path.isdir(args.outfile) or not os.path.isdir(directory):
            _fail(f"can't write report to {args.outfile!r}: not a file in an existing directory")


def _reload(args: argparse.Namespace) -> NoReturn:
    """--load, --load-prev, --list-prev: render what was saved; nothing runs."""
    if args.list_prev:
        lines = history.listing()
        print("\n".join(lines) if lines else f"no saved sessions in {history.directory()}")
        sys.exit(0)
    _check_outfile(args)
    try:
        if args.load is not None:
            session = children.load_combined(args.load)
        else:
            session = history.load(args.load_prev or None)
    except (SessionLoadError, ValueError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if _report(session, args, _renderer(args)) else 2)


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    options, kind, words = _split_argv(list(sys.argv[1:] if argv is None else argv))
    args = _make_parser().parse_args(options)
    reloading = args.load is not None or args.load_prev is not None or args.list_prev
    if reloading and kind is not None:
        _fail("--load, --load-prev and --list-prev run no program; remove the program's name")
    if sum((args.load is not None, args.load_prev is not None, args.list_prev)) > 1:
        _fail("choose one of --load, --load-prev and --list-prev")
    if reloading:
        _reload(args)
    if kind is None:
        _fail("no script, -m module or -c command given (see --help)")
    if not words:
        _fail(f"{kind} needs " + ("a module name" if kind == "-m" else "a command" if kind == "-c" else "a script"))
    _check_outfile(args)
    renderer = _renderer(args)

    profiler = Profiler(
        args.interval, timeline=args.timeline, all_threads=not args.main_thread,
        follow_children=args.subprocess, children_dir=_children_dir(args) if args.subprocess else None,
    )  # fmt: skip
    try:
        code, attrs = _prepare(kind, words[0], words[1:])
        main_globals = _fresh_main(attrs)
        profiler.start(root_code=code, target=shlex.join(words if kind == "script" else [kind, *words]))
    except (_CannotStart, ProfilerError) as e:
        _fail(str(e))
    pid = os.getpid()
    atexit.register(_die_by_sigint)
    exc = _run(code, main_globals)

    # A forked child that ends here exits with its status, without a report.
    session = profiler.stop() if os.getpid() == pid else None
    status = _exit_status(exc)
    if session is not None and not _report(session, args, renderer):
        status = status or 2
    # A JSON or session report on stderr stays parseable: no note after it.
    announce = args.outfile is not None or renderer == "text"
    if session is not None and not args.no_save:
        _save_to_history(session, announce)
    if session is not None and profiler.children_dir is not None:
        _list_children(session, profiler.children_dir, announce)
    if not isinstance(exc, KeyboardInterrupt):
        atexit.unregister(_die_by_sigint)
    sys.exit(status)


if __name__ == "__main__":
    main()
