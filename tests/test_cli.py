"""The command line, end to end: every test runs `python -m stroboscope` in a
subprocess and, where it matters, compares with plain `python`."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import stroboscope

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PACKAGE_DIR = os.path.dirname(os.path.abspath(stroboscope.__file__)) + os.sep

# A little CPU work, so every program gets samples (about 50 ms).
WORK = textwrap.dedent(
    """
    import time as _time
    def work(seconds=0.05):
        end = _time.perf_counter() + seconds
        n = 0
        while _time.perf_counter() < end:
            n += sum(i * i for i in range(100))
        return n
    """
)

# Prints what a program can see of how it was started.
PROBE = WORK + textwrap.dedent(
    """
    import json, os, sys
    work()
    print(json.dumps({
        "argv": sys.argv,
        "path0": sys.path[0],
        "name": __name__,
        "file": globals().get("__file__"),
        "spec": __spec__.name if __spec__ else None,
        "package": __package__,
        "main_is_me": sys.modules["__main__"].__dict__ is globals(),
        "cwd": os.getcwd(),
    }, sort_keys=True))
    """
)


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PYTHONSAFEPATH")}
    env.update(extra)
    return env


def run(argv: list, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=cwd, env=clean_env() if env is None else env, capture_output=True, text=True, timeout=30
    )


def cli(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "stroboscope", *map(str, args)], cwd=cwd, env=env)


def python(*args, cwd=None) -> subprocess.CompletedProcess:
    return run([sys.executable, *map(str, args)], cwd=cwd)


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def report_json(path: Path) -> dict:
    doc = json.loads(path.read_text())
    assert doc["nodes"], "empty call tree"
    return doc


def reported_frames(doc: dict) -> list:
    """The frames the call tree uses (the synthetic root has none)."""
    return [doc["frames"][n["frame"]] for n in doc["nodes"] if n["frame"] is not None]


# -- the program sees what it would see under plain python ---------------------


def test_script_parity(tmp_path):
    write(tmp_path / "sub" / "probe.py", PROBE)
    args = ["sub/probe.py", "a", "--help", "-i", "-m", "x"]
    plain = python(*args, cwd=tmp_path)
    profiled = cli(*args, cwd=tmp_path)
    assert plain.returncode == profiled.returncode == 0, profiled.stderr
    assert profiled.stdout == plain.stdout
    seen = json.loads(profiled.stdout)
    assert seen["argv"] == args and seen["name"] == "__main__" and seen["main_is_me"]
    assert seen["path0"] == os.path.realpath(tmp_path / "sub")


def test_script_path0_follows_symlinks(tmp_path):
    write(tmp_path / "real" / "probe.py", PROBE)
    (tmp_path / "link").mkdir()
    os.symlink(tmp_path / "real" / "probe.py", tmp_path / "link" / "probe.py")
    plain = python("link/probe.py", cwd=tmp_path)
    profiled = cli("link/probe.py", cwd=tmp_path)
    assert profiled.stdout == plain.stdout
    assert json.loads(profiled.stdout)["path0"] == os.path.realpath(tmp_path / "real")


def test_module_parity(tmp_path):
    write(tmp_path / "probe.py", PROBE)
    plain = python("-m", "probe", "a", "-c", "b", cwd=tmp_path)
    profiled = cli("-m", "probe", "a", "-c", "b", cwd=tmp_path)
    assert plain.returncode == profiled.returncode == 0, profiled.stderr
    assert profiled.stdout == plain.stdout
    seen = json.loads(profiled.stdout)
    assert seen["argv"] == [str(tmp_path / "probe.py"), "a", "-c", "b"]
    assert seen["path0"] == seen["cwd"] and seen["spec"] == "probe" and seen["name"] == "__main__"


def test_package_main_parity(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "__main__.py", PROBE)
    plain = python("-m", "pkg", "x", cwd=tmp_path)
    profiled = cli("-m", "pkg", "x", cwd=tmp_path)
    assert plain.returncode == profiled.returncode == 0, profiled.stderr
    assert profiled.stdout == plain.stdout
    seen = json.loads(profiled.stdout)
    assert seen["spec"] == "pkg.__main__" and seen["package"] == "pkg"


def test_command_parity(tmp_path):
    plain = python("-c", PROBE, "a", "-m", cwd=tmp_path)
    profiled = cli("-c", PROBE, "a", "-m", cwd=tmp_path)
    assert plain.returncode == profiled.returncode == 0, profiled.stderr
    assert profiled.stdout == plain.stdout
    seen = json.loads(profiled.stdout)
    assert seen["argv"] == ["-c", "a", "-m"] and seen["path0"] == "" and seen["file"] is None


@pytest.mark.parametrize(
    "ours, theirs",
    [
        # Every option that takes a value, so the split knows to skip it.
        (
            ["-i", "0.002", "-o", "r.txt", "-r", "text", "--hide", "*/x/*", "--show", "*/y/*",
             "--hide-regex", "a", "--show-regex", "b", "--threshold", "0", "--time", "cpu"],
            ["probe.py", "-i", "5", "--help"],
        ),
        (["--interval=0.002", "--show-all", "--no-color", "--unicode"], ["probe.py", "-o", "x"]),
        (["--", ], ["probe.py", "--version"]),
        (["-i0.002"], ["-mprobe", "--"]),
    ],
)  # fmt: skip
def test_options_end_where_the_program_starts(tmp_path, ours, theirs):
    write(tmp_path / "probe.py", PROBE)
    r = cli(*ours, *theirs, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    argv = json.loads(r.stdout)["argv"]
    assert argv[1:] == theirs[1:]


# -- exit status and the report in every case ---------------------------------

ENDINGS = WORK + textwrap.dedent(
    """
    import sys
    print("program output")
    sys.stdout.flush()
    how = sys.argv[1]
    def end():
        work()
        if how == "code":
            sys.exit(3)
        if how == "message":
            sys.exit("giving up now")
        if how == "none":
            sys.exit(None)
        if how == "raise":
            raise RuntimeError("boom")
        if how == "interrupt":
            raise KeyboardInterrupt
    end()
    """
)


@pytest.mark.parametrize(
    "how, status, in_stderr",
    [
        ("ok", 0, None),
        ("none", 0, None),
        ("code", 3, None),
        ("message", 1, "giving up now"),
        ("raise", 1, "RuntimeError: boom"),
        ("interrupt", -signal.SIGINT, "KeyboardInterrupt"),
    ],
)
def test_exit_status_is_pythons_and_the_report_is_written(tmp_path, how, status, in_stderr):
    prog = write(tmp_path / "endings.py", ENDINGS)
    plain = python(prog, how)
    assert plain.returncode == status  # the table above is what python does
    r = cli("-o", tmp_path / "report.json", prog, how)
    assert r.returncode == status, r.stderr
    assert r.stdout == "program output\n"
    if in_stderr:
        assert in_stderr in r.stderr
    assert "report written to" in r.stderr
    doc = report_json(tmp_path / "report.json")
    assert "end" in [f["name"] for f in reported_frames(doc)]


def test_traceback_is_the_programs_own(tmp_path):
    prog = write(tmp_path / "endings.py", ENDINGS)
    plain = python(prog, "raise")
    r = cli(prog, "raise")
    tb = r.stderr[r.stderr.index("Traceback") :]
    assert tb.startswith(plain.stderr)  # the same traceback, then the report
    assert "work" in r.stderr[len(plain.stderr) :]


def test_interrupted_program_still_runs_its_atexit_handlers(tmp_path):
    prog = write(
        tmp_path / "interrupted.py",
        WORK + "import atexit\natexit.register(print, 'atexit ran')\nwork()\nraise KeyboardInterrupt\n",
    )
    plain = python(prog)
    r = cli(prog)
    assert plain.returncode == r.returncode == -signal.SIGINT
    assert plain.stdout == r.stdout == "atexit ran\n"
    assert "work" in r.stderr[r.stderr.index("KeyboardInterrupt") :]  # the report follows the traceback


def test_syntax_error_exits_like_python(tmp_path):
    prog = write(tmp_path / "broken.py", "def f(:\n")
    plain = python(prog)
    r = cli(prog)
    assert plain.returncode == r.returncode == 1
    assert "SyntaxError" in r.stderr and "Traceback" not in r.stderr


def test_fork_gives_one_report(tmp_path):
    prog = write(
        tmp_path / "forks.py",
        WORK
        + textwrap.dedent(
            """
            import os, sys
            pid = os.fork()
            if pid == 0:
                work(0.02)
                if sys.argv[1] == "exit":
                    sys.exit(5)
            else:
                _, status = os.waitpid(pid, 0)
                print("child status", os.waitstatus_to_exitcode(status))
                work()
            """
        ),
    )
    for how, child_status in (("return", 0), ("exit", 5)):
        r = cli("-o", tmp_path / "r.json", prog, how)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"child status {child_status}\n"
        # (3.12+ also warns here that the process is multi-threaded: the sampler's timer thread.)
        assert r.stderr.count("report written to") == 1
        report_json(tmp_path / "r.json")


# -- where the report goes and what it holds ----------------------------------

HELLO = WORK + "print('hello')\nwork()\n"


def test_stdout_is_the_programs_and_the_report_goes_to_stderr(tmp_path):
    prog = write(tmp_path / "hello.py", HELLO)
    r = cli(prog)
    assert r.returncode == 0
    assert r.stdout == "hello\n"
    assert "work" in r.stderr and "hello.py" in r.stderr


def test_text_outfile(tmp_path):
    prog = write(tmp_path / "hello.py", HELLO)
    out = tmp_path / "out" / "report.txt"
    out.parent.mkdir()
    r = cli("-o", out, prog)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"
    assert r.stderr.strip().splitlines()[0] == f"stroboscope: text report written to {out}"
    assert "--load-prev" in r.stderr.strip().splitlines()[1]
    assert "work" in out.read_text() and "\x1b" not in out.read_text()
    assert os.listdir(out.parent) == ["report.txt"]  # no temporary file left behind


def test_json_outfile_and_renderer_override(tmp_path):
    prog = write(tmp_path / "hello.py", HELLO)
    r = cli("-o", tmp_path / "report.json", prog, "arg")
    assert r.returncode == 0, r.stderr
    doc = report_json(tmp_path / "report.json")
    ids = {n["id"] for n in doc["nodes"]}
    assert all(n["parent"] is None or n["parent"] in ids for n in doc["nodes"])
    assert doc["meta"]["target"] == f"{prog} arg"
    r = cli("-r", "json", "-o", tmp_path / "report.txt", prog)
    assert r.returncode == 0, r.stderr
    report_json(tmp_path / "report.txt")


def test_json_to_stderr(tmp_path):
    prog = write(tmp_path / "hello.py", HELLO)
    r = cli("-r", "json", prog)
    assert r.returncode == 0
    assert r.stdout == "hello\n"
    assert json.loads(r.stderr)["nodes"]


@pytest.mark.parametrize(
    "how, target",
    [
        (["-m", "hello", "x y"], "-m hello 'x y'"),
        (["-c", "import hello", "a"], "-c 'import hello' a"),
    ],
)
def test_target_is_the_command_line(tmp_path, how, target):
    write(tmp_path / "hello.py", HELLO)
    r = cli("-o", tmp_path / "r.json", *how, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert report_json(tmp_path / "r.json")["meta"]["target"] == target


@pytest.mark.parametrize("how", ["script", "-m", "-c"])
def test_report_root_is_the_programs_module(tmp_path, how):
    write(tmp_path / "hello.py", HELLO)
    program = {"script": ["hello.py"], "-m": ["-m", "hello"], "-c": ["-c", HELLO]}[how]
    r = cli("--show-all", "--threshold", "0", "-o", tmp_path / "r.json", *program, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = report_json(tmp_path / "r.json")
    # Every thread is sampled: the main thread's root names it, and under it
    # the program's <module> is the only frame.
    threads = [n for n in doc["nodes"] if n["parent"] == 0]
    assert [doc["frames"][n["frame"]]["name"].split(" (tid ")[0] for n in threads] == ["MainThread"]
    tops = [doc["frames"][n["frame"]] for n in doc["nodes"] if n["parent"] == threads[0]["id"]]
    assert [f["name"] for f in tops] == ["<module>"]
    assert tops[0]["file"] == ("<string>" if how == "-c" else str(tmp_path / "hello.py"))
    # --main-thread: the program's <module> is the root.
    r = cli("--main-thread", "--show-all", "--threshold", "0", "-o", tmp_path / "m.json", *program, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = report_json(tmp_path / "m.json")
    tops = [doc["frames"][n["frame"]] for n in doc["nodes"] if n["parent"] == 0]
    assert [f["name"] for f in tops] == ["<module>"]
    files = [f["file"] for f in reported_frames(doc)]
    assert not [f for f in files if "runpy" in f or f.startswith(PACKAGE_DIR)]


# -- options -------------------------------------------------------------------

NESTED = WORK + "def outer():\n    return work()\nouter()\n"


def test_color_follows_options_and_no_color(tmp_path):
    prog = write(tmp_path / "nested.py", NESTED)
    assert "\x1b[" not in cli(prog).stderr  # a pipe: no colour
    assert "\x1b[" in cli("--color", prog).stderr
    assert "\x1b[" in cli("--color", prog, env=clean_env(NO_COLOR="1")).stderr


def run_with_stderr_on_a_terminal(argv: list, env: dict) -> str:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_color_on_a_terminal_unless_no_color(tmp_path):
    prog = write(tmp_path / "nested.py", NESTED)
    argv = [sys.executable, "-m", "stroboscope", str(prog)]
    assert "\x1b[" in run_with_stderr_on_a_terminal(argv, clean_env())
    out = run_with_stderr_on_a_terminal(argv, clean_env(NO_COLOR="1"))
    assert "work" in out and "\x1b[" not in out
    assert "\x1b[" in run_with_stderr_on_a_terminal([*argv[:3], "--color", str(prog)], clean_env(NO_COLOR="1"))


def test_unicode_options(tmp_path):
    prog = write(tmp_path / "nested.py", NESTED)
    boxes = set("├└│─")
    assert boxes & set(cli("--unicode", "--threshold", "0", prog).stderr)
    ascii_report = cli("--no-unicode", "--threshold", "0", prog).stderr
    assert "outer" in ascii_report and not boxes & set(ascii_report)
    assert not boxes & set(cli("--threshold", "0", prog, env=clean_env(PYTHONIOENCODING="ascii")).stderr)


def test_hide_and_threshold_change_the_report(tmp_path):
    prog = write(tmp_path / "nested.py", NESTED)
    assert "outer" in cli("--threshold", "0", prog).stderr
    hidden = cli("--threshold", "0", "--hide", "*/nested.py", prog).stderr
    assert "outer" not in hidden
    hidden = cli("--threshold", "0", "--hide-regex", r"nested\.py$", prog).stderr
    assert "outer" not in hidden


def test_version_and_help():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"stroboscope {stroboscope.__version__}"
    r = cli("--help")
    assert r.returncode == 0 and "usage: stroboscope" in r.stdout and "--interval" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["-i", "0", "x.py"], "argument -i/--interval: must be between 0.0001 and 10 seconds, got '0'"),
        (["-i", "0.00005", "x.py"], "argument -i/--interval: must be between"),
        (["--interval", "11", "x.py"], "argument -i/--interval: must be between"),
        (["-i", "nan", "x.py"], "argument -i/--interval: must be between"),
        (["-i", "fast", "x.py"], "argument -i/--interval: must be between"),
        (["--bogus", "x.py"], "unrecognized arguments: --bogus"),
        (["-r", "xml", "x.py"], "argument -r/--renderer: invalid choice"),
        (["--threshold", "101", "x.py"], "argument --threshold: must be a percentage"),
        (["--hide-regex", "(", "x.py"], "argument --hide-regex: invalid regular expression '('"),
        (["--show-regex", "[", "x.py"], "argument --show-regex: invalid regular expression '['"),
        (["nope.py"], "can't open file 'nope.py': [Errno 2] No such file or directory"),
        (["-m", "nope_no_such_module"], "No module named nope_no_such_module"),
        (["-m"], "-m needs a module name"),
        (["-c"], "-c needs a command"),
        ([], "no script, -m module or -c command given"),
        (["-o", "no/such/dir/r.txt", "x.py"], "can't write report to 'no/such/dir/r.txt'"),
    ],
)
def test_could_not_start_is_one_line_and_status_2(tmp_path, args, message):
    write(tmp_path / "x.py", "print('ran')\n")
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""  # the program did not run
    assert r.stderr.startswith("stroboscope: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr


# -- the entry points and the examples ----------------------------------------


def test_console_script_matches_python_m(tmp_path):
    exe = shutil.which("stroboscope", path=sysconfig.get_path("scripts"))  # this interpreter's, not another's
    if exe is None:
        pytest.skip("the stroboscope console script is not installed for this interpreter")
    write(tmp_path / "probe.py", PROBE)
    via_m = cli("probe.py", "a", cwd=tmp_path)
    via_script = run([exe, "probe.py", "a"], cwd=tmp_path, env=clean_env())
    assert via_script.returncode == via_m.returncode == 0, via_script.stderr
    assert via_script.stdout == via_m.stdout


@pytest.mark.parametrize(
    "example, args, expect",
    [
        ("busy.py", ["--rounds", "1"], "primes_below"),
        ("deep_recursion.py", ["--depth", "2000", "--repeat", "1"], "descend"),
        ("exit_codes.py", ["ok"], "work"),
    ],
)
def test_examples(example, args, expect):
    r = cli("--no-unicode", EXAMPLES / example, *args)
    assert r.returncode == 0, r.stderr
    assert expect in r.stderr
