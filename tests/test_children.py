"""Following child processes (`--subprocess`, `Profiler(follow_children=True)`):
fork, multiprocessing (fork, spawn, forkserver) and subprocess running Python.
Every test runs a program in a subprocess and compares it with plain `python`:
the program's stdout and exit status must not change. Its stderr may (the
report; on 3.12+ fork warns that the process is multi-threaded: the sampler's
timer is a thread), so nothing here expects an empty stderr."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stroboscope import Profiler, Session, children

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")

from test_cli import WORK  # noqa: E402  (the same little CPU work)

LINE = re.compile(r"stroboscope: (\d+) child process(?:es)? profiled, sessions in (.+); all processes in one report: ")


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PYTHONSAFEPATH", children.ENV)}
    env.update(extra)
    return env


def run(argv: list, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=clean_env() if env is None else env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def cli(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "stroboscope", *args], cwd=cwd, env=env)


def python(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return run([sys.executable, *args], cwd=cwd, env=env)


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WORK + textwrap.dedent(source))
    return path


def same_as_python(prog: Path, *args, env=None, options=()) -> tuple:
    """Runs prog under python and under `stroboscope --subprocess`; checks
    stdout and status are the same; returns (result, children directory)."""
    plain = python(prog, *args, cwd=prog.parent, env=env)
    out = prog.parent / "report.json"
    r = cli("--subprocess", *options, "-o", out, prog, *args, cwd=prog.parent, env=env)
    assert r.returncode == plain.returncode, r.stderr
    assert r.stdout == plain.stdout, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    json.loads(out.read_text())
    directory = Path(str(out) + ".children")
    return r, directory


def child_sessions(directory: Path, parent_pid=None) -> dict:
    """{pid: Session} of the children, without the parent's own file."""
    found = {}
    for path in sorted(directory.glob("*.strobe")):
        pid = int(path.stem.split("-")[0])
        if pid != parent_pid:
            found[pid] = Session.load(path)
    return found


def parent_pid(directory: Path, r: subprocess.CompletedProcess) -> int:
    """The parent saved its own session as <pid>.strobe: the one whose target
    is the command line, not "pid N: ..."."""
    for path in directory.glob("*.strobe"):
        if not (Session.load(path).target or "").startswith("pid "):
            return int(path.stem)
    raise AssertionError(f"no parent session in {directory}: {r.stderr}")


def names(session: Session) -> set:
    return {name for name, _file, _line, _kind in session.frames()}


def announced(r: subprocess.CompletedProcess) -> tuple:
    (m,) = [m for m in map(LINE.match, r.stderr.splitlines()) if m]
    return int(m.group(1)), m.group(2)


# -- fork ------------------------------------------------------------------------

FORKS = """
    import os, sys
    work(0.02)
    pid = os.fork()
    if pid == 0:
        work(0.1)
        if sys.argv[1] == "exit":
            sys.exit(5)
        if sys.argv[1] == "_exit":
            sys.stdout.flush()
            os._exit(6)
    else:
        _, status = os.waitpid(pid, 0)
        print("child status", os.waitstatus_to_exitcode(status))
        work()
"""


@pytest.mark.parametrize("how", ["return", "exit", "_exit"])
def test_fork_followed(tmp_path, how):
    prog = write(tmp_path / "forks.py", FORKS)
    r, directory = same_as_python(prog, how)
    assert r.stderr.count("report written to") == 1
    assert announced(r) == (1, str(directory))
    parent = parent_pid(directory, r)
    kids = child_sessions(directory, parent)
    assert len(kids) == 1
    (pid, kid), = kids.items()
    assert kid.sample_count > 0 and kid.errors == []
    assert "work" in names(kid)
    assert kid.target.startswith(f"pid {pid}: ") and f"fork of pid {parent}" in kid.target
    assert [tid for _, tid in kid.threads] == [pid]  # all threads, like the parent


def test_fork_not_followed_without_the_option(tmp_path):
    prog = write(tmp_path / "forks.py", FORKS)
    for how in ("return", "_exit"):
        out = tmp_path / "r.json"
        r = cli("-o", out, prog, how, cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == python(prog, how).stdout
        assert r.stderr.count("report written to") == 1
        assert "child process" not in r.stderr
        assert not Path(str(out) + ".children").exists()


def test_profiler_follows_fork_in_code(tmp_path):
    before = {k: os.environ.get(k) for k in ("PYTHONPATH", children.ENV)}
    with Profiler(follow_children=True, children_dir=tmp_path / "kids") as p:
        assert os.environ[children.ENV] and os.environ["PYTHONPATH"].startswith(children.BOOT_DIR)
        pid = os.fork()
        if pid == 0:
            exec(compile(WORK, "<work>", "exec"), globals())
            work(0.05)  # noqa: F821
            os._exit(0)  # saves first: the profiler wraps os._exit in its children
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert {k: os.environ.get(k) for k in before} == before
    assert p.children == [str(tmp_path / "kids" / f"{pid}.strobe")]
    assert Session.load(p.children[0]).sample_count > 0
    pid_followed = pid

    # Not following: a fork child saves nothing.
    with Profiler() as q:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    assert q.children == [] and os.listdir(tmp_path / "kids") == [f"{pid_followed}.strobe"]


# -- multiprocessing -------------------------------------------------------------

POOL = """
    import multiprocessing, sys

    def square(x):
        work(0.03)
        return x * x

    if __name__ == "__main__":
        ctx = multiprocessing.get_context(sys.argv[1])
        with ctx.Pool(2) as pool:
            print(pool.map(square, range(8), chunksize=1))
            pool.close()  # the workers exit, and save
            pool.join()
        with ctx.Pool(2) as pool:  # leaving it kills the workers (SIGTERM): they save nothing
            print(pool.map(square, range(4)))
        p = ctx.Process(target=square, args=(3,))
        p.start(); p.join()
        print("exitcode", p.exitcode)
        work()
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool_and_process(tmp_path, method):
    prog = write(tmp_path / "pool.py", POOL)
    r, directory = same_as_python(prog, method)
    assert r.stdout == "[0, 1, 4, 9, 16, 25, 36, 49]\n[0, 1, 4, 9]\nexitcode 0\n"
    kids = child_sessions(directory, parent_pid(directory, r))
    # The first pool's two workers and the Process (the second pool's workers
    # only if they exited before the signal); not multiprocessing's helpers.
    assert 3 <= len(kids) <= 5, (r.stderr, sorted(kids))
    assert announced(r)[0] == len(kids)
    assert sum("square" in names(k) for k in kids.values()) >= 2
    assert all(k.errors == [] for k in kids.values())


def test_load_merges_a_directory_and_several_files(tmp_path):
    prog = write(tmp_path / "pool.py", POOL)
    r, directory = same_as_python(prog, "fork")
    files = sorted(directory.glob("*.strobe"))
    merged = cli("--load", directory, "-r", "json")
    assert merged.returncode == 0, merged.stderr
    by_files = cli(*[a for f in files for a in ("--load", f)], "-r", "json")
    assert by_files.returncode == 0 and json.loads(by_files.stderr) == json.loads(merged.stderr)
    sessions = [Session.load(f) for f in files]
    combined = children.load_combined([str(directory)])
    assert combined.sample_count == sum(s.sample_count for s in sessions)
    # Each process keeps its own thread roots, by tid.
    assert {tid for _, tid in combined.threads} >= {int(f.stem) for f in files}
    assert "more session" in combined.target
    text = cli("--load", directory, "--no-color")
    assert text.returncode == 0 and "square" in text.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = cli("--load", empty)
    assert bad.returncode == 1 and "no session files" in bad.stderr and bad.stderr.count("\n") == 1


# -- subprocess --------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, os, subprocess, sys
    def work():
        return sum(i * i for i in range(2000000))
    work()
    print(json.dumps({"argv": sys.argv, "path": sys.path}))
    sys.stdout.flush()
    if sys.argv[1] == "deeper":
        subprocess.run([sys.executable, "-c", "import sys; sum(range(10**6)); sys.exit(0)"], check=True)
    sys.exit(4)
    """
)

SUBPROCESS = f"""
    import json, subprocess, sys
    child = {CHILD!r}
    r = subprocess.run([sys.executable, "-c", child, sys.argv[1]], stdout=subprocess.PIPE, text=True)
    print(r.returncode, r.stdout.strip())
    print(subprocess.run(["sh", "-c", "echo not python"], stdout=subprocess.PIPE, text=True).stdout.strip())
    work()
"""


@pytest.mark.parametrize("depth", ["one", "deeper"])
def test_subprocess_running_python(tmp_path, depth):
    prog = write(tmp_path / "sub.py", SUBPROCESS)
    # sys.path and sys.argv of the child are compared through stdout.
    r, directory = same_as_python(prog, depth)
    assert r.stdout.startswith("4 ") and "not python" in r.stdout
    kids = child_sessions(directory, parent_pid(directory, r))
    assert len(kids) == (2 if depth == "deeper" else 1), r.stderr
    first = min(kids.values(), key=lambda s: s.start_time)
    assert "work" in names(first) and first.sample_count > 0
    assert first.target.startswith("pid ") and "-c" in first.target


def test_preexec_fn_child_is_profiled_once(tmp_path):
    prog = write(
        tmp_path / "pre.py",
        """
        import subprocess, sys
        r = subprocess.run([sys.executable, "-c", "print(sum(range(10**6)))"],
                           preexec_fn=lambda: None, stdout=subprocess.PIPE, text=True)
        print(r.returncode, r.stdout.strip())
        """,
    )
    r, directory = same_as_python(prog)
    assert len(child_sessions(directory, parent_pid(directory, r))) == 1


def test_programs_own_sitecustomize_still_runs(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import os\nos.environ['CUSTOMIZED'] = os.environ.get('CUSTOMIZED', '') + 'x'\n")
    prog = write(
        tmp_path / "sub.py",
        """
        import os, subprocess, sys
        code = "import os, sys; print(os.environ.get('CUSTOMIZED'), sys.path[1:2], sys.modules['sitecustomize'].__file__)"
        print(subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True).stdout.strip())
        """,
    )
    r, directory = same_as_python(prog, env=clean_env(PYTHONPATH=str(site)))
    assert r.stdout.startswith("xx [") and str(site) in r.stdout  # parent, then child
    assert len(child_sessions(directory, parent_pid(directory, r))) == 1


def test_a_child_using_stroboscope_itself(tmp_path):
    # The child's own profiler wins; the one that follows it gives way.
    prog = write(
        tmp_path / "nested.py",
        """
        import subprocess, sys
        code = "import stroboscope; p = stroboscope.Profiler(all_threads=True); p.start(); sum(range(10**6)); print(p.stop().sample_count >= 0)"
        print(subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True).stdout.strip())
        """,
    )
    r, _ = same_as_python(prog)
    assert r.stdout == "True\n"


# -- where the sessions go -----------------------------------------------------------

def test_without_outfile_the_directory_is_in_the_history(tmp_path):
    prog = write(tmp_path / "forks.py", FORKS)
    xdg = tmp_path / "xdg"
    r = cli("--subprocess", "--no-color", prog, "return", env=clean_env(XDG_DATA_HOME=str(xdg)))
    assert r.returncode == 0 and "MainThread" in r.stderr
    n, directory = announced(r)
    assert n == 1 and Path(directory).parent == xdg / "stroboscope" / "sessions" / "children"
    assert len(list(Path(directory).glob("*.strobe"))) == 2
    assert r.stderr.splitlines()[-1].endswith(f"stroboscope --load {directory}")


def test_outfile_directory_is_emptied_of_an_earlier_run(tmp_path):
    prog = write(tmp_path / "forks.py", FORKS)
    stale = tmp_path / "report.json.children" / "1.strobe"
    stale.parent.mkdir()
    stale.write_text("old")
    r, directory = same_as_python(prog, "return")
    assert not stale.exists() and len(list(directory.glob("*.strobe"))) == 2


def test_no_child_is_said_so(tmp_path):
    prog = write(tmp_path / "alone.py", "work()\nprint('alone')\n")
    r, directory = same_as_python(prog)
    assert "no child process was profiled" in r.stderr
    assert [p.name for p in directory.iterdir()] == [f"{parent_pid(directory, r)}.strobe"]


def test_json_on_stderr_stays_parseable(tmp_path):
    prog = write(tmp_path / "forks.py", FORKS)
    r = cli("--subprocess", "-r", "json", prog, "return", cwd=tmp_path)
    assert r.returncode == 0
    assert json.loads(r.stderr[r.stderr.index("{"):])["nodes"]
