"""Every thread: Profiler(all_threads=True) and the command line's default.
Bounds are wide: the tests check where time goes, not how fast anything is."""

import concurrent.futures
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from stroboscope import Profiler, ProfilerError, _core


def busy(seconds):
    """Burns `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += sum(i * i for i in range(200))
    return n


class Tree:
    """The JSON report of a session, by thread: {thread name: [nodes]}."""

    def __init__(self, session, **view):
        self.doc = json.loads(session.render("json", show_all=True, threshold=0, **view))
        self.frames = self.doc["frames"]
        nodes = self.doc["nodes"]
        self.nodes = nodes
        self.threads = {}
        owner = {}
        for n in nodes:
            if n["parent"] == 0:
                name = self.frames[n["frame"]]["name"]
                assert self.frames[n["frame"]]["kind"] == "synthetic", name
                owner[n["id"]] = name.split(" (tid ")[0]
                self.threads[owner[n["id"]]] = [n]
            elif n["parent"] is not None:
                owner[n["id"]] = owner[n["parent"]]
                self.threads[owner[n["id"]]].append(n)

    def root(self, thread):
        return self.threads[thread][0]

    def names(self, thread):
        return {self.frames[n["frame"]]["name"] for n in self.threads[thread]}

    def node(self, thread, name):
        found = [n for n in self.threads[thread] if self.frames[n["frame"]]["name"] == name]
        assert found, (thread, name, self.names(thread))
        return found[0]


def test_threads_started_before_and_after_start_each_have_a_root():
    go = threading.Event()

    def early():
        go.wait()
        busy(0.15)

    def late():
        busy(0.15)

    a = threading.Thread(target=early, name="early")
    a.start()
    with Profiler(all_threads=True) as p:
        go.set()
        b = threading.Thread(target=late, name="late")
        b.start()
        a.join()
        b.join()
    t = Tree(p.last_session)
    assert {"MainThread", "early", "late"} <= set(t.threads)
    def has(thread, fn):
        return any(name.split(".")[-1] == fn for name in t.names(thread))

    assert has("early", "early") and has("late", "late")
    assert not has("early", "late") and not has("late", "early")
    # Each thread is charged its own CPU time (0.15 s each).
    for name in ("early", "late"):
        assert 0.08 < t.root(name)["total_cpu"] < 0.4, t.root(name)
    assert {name for name, _tid in p.last_session.threads} >= {"MainThread", "early", "late"}


def test_eight_concurrent_threads_and_threads_that_end_early():
    ns = {"busy": busy}
    for i in range(8):
        exec(f"def work_{i}():\n    busy(0.05)\n", ns)
    with Profiler(all_threads=True) as p:
        threads = [threading.Thread(target=ns[f"work_{i}"], name=f"w{i}") for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        busy(0.1)  # the workers have ended: their samples stay
    t = Tree(p.last_session)
    for i in range(8):
        assert f"work_{i}" in t.names(f"w{i}")
        assert all(f"work_{j}" not in t.names(f"w{i}") for j in range(8) if j != i)


def test_a_thread_pool():
    def pooled(x):
        busy(0.03)
        return x * 2

    with Profiler(all_threads=True) as p:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(pooled, range(8))) == [x * 2 for x in range(8)]
    t = Tree(p.last_session)
    pool_threads = [name for name in t.threads if name.startswith("ThreadPoolExecutor")]
    assert pool_threads
    assert any(fn.split(".")[-1] == "pooled" for name in pool_threads for fn in t.names(name))


def test_threads_blocked_in_sleep_and_in_a_lock_are_charged_to_that_line():
    lock = threading.Lock()
    lock.acquire()

    def sleeper():
        time.sleep(1.0)  # SLEEP LINE

    def waiter():
        with lock:  # LOCK LINE
            pass

    src = textwrap.dedent(__import__("inspect").getsource(sys.modules[__name__]))
    sleep_line = next(i for i, line in enumerate(src.splitlines(), 1) if line.endswith("# SLEEP LINE"))
    lock_line = next(i for i, line in enumerate(src.splitlines(), 1) if line.endswith("# LOCK LINE"))

    with Profiler(all_threads=True) as p:
        s = threading.Thread(target=sleeper, name="sleepy")
        w = threading.Thread(target=waiter, name="locky")
        s.start()
        w.start()
        busy(0.3)  # the main thread runs, and samples the others
        time.sleep(0.8)
        lock.release()
        s.join()
        w.join()
    t = Tree(p.last_session)
    for thread, fn, line in (("sleepy", "sleeper", sleep_line), ("locky", "waiter", lock_line)):
        node = next(n for n in t.threads[thread] if t.frames[n["frame"]]["name"].endswith(fn))
        # Blocked about a second: the time is there, waiting (no CPU),
        # at the line that blocked, not lost and not given to anything else.
        assert node["total_wall"] > 0.6, node
        assert node["total_cpu"] < 0.2, node
        assert node["line"] == line, (node, line)
        assert node["self_wall"] > 0.6 * node["total_wall"], node


def test_two_profilers_in_two_threads_at_once():
    results = {}
    barrier = threading.Barrier(2)

    def one():
        with Profiler() as p:
            barrier.wait()
            busy(0.15)
        results["one"] = p.last_session

    def two():
        with Profiler() as p:
            barrier.wait()
            sum_squares()
        results["two"] = p.last_session

    def sum_squares():
        busy(0.15)

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    names_one = {f[0] for f in results["one"].frames()}
    names_two = {f[0] for f in results["two"].frames()}
    assert any(n.endswith("one") for n in names_one) and not any(n.endswith("sum_squares") for n in names_one)
    assert any(n.endswith("sum_squares") for n in names_two) and not any(n.endswith(".one") for n in names_two)
    assert not results["one"].threads and not results["two"].threads  # one thread each: no thread roots


def test_an_all_threads_profiler_runs_alone():
    errors = []

    def other():
        try:
            Profiler().start()
        except ProfilerError as e:
            errors.append(str(e))

    with Profiler(all_threads=True):
        th = threading.Thread(target=other)
        th.start()
        th.join()
        with pytest.raises(ProfilerError):
            Profiler(all_threads=True).start()
    assert len(errors) == 1 and "all-threads" in errors[0]
    single = Profiler()
    single.start()
    try:
        with pytest.raises(ProfilerError, match="all-threads profiler must be the only one"):
            Profiler(all_threads=True).start()
    finally:
        single.stop()
    with Profiler(all_threads=True):  # works again afterwards
        busy(0.01)


def test_stop_leaves_no_hook_in_any_thread():
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            sum(i for i in range(100))

    threads = [threading.Thread(target=spin) for _ in range(3)]
    for th in threads:
        th.start()
    try:
        for _ in range(20):
            p = Profiler(all_threads=True, interval=0.0002)
            p.start()
            time.sleep(0.01)
            p.stop()
            assert _core.hooked_threads() == 0
            assert sys.getprofile() is None
    finally:
        stop.set()
        for th in threads:
            th.join()


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "stroboscope", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


THREADED = textwrap.dedent(
    """
    import sys, threading, time

    def crunch():
        end = time.thread_time() + 0.2
        while time.thread_time() < end:
            sum(i * i for i in range(200))

    def forever():
        while True:
            sum(i for i in range(100))

    def nap():
        time.sleep(30)

    worker = threading.Thread(target=crunch, name="worker")
    worker.start()
    threading.Thread(target=forever, name="spinner", daemon=True).start()
    threading.Thread(target=nap, name="napper", daemon=True).start()
    worker.join()
    print("done")
    sys.exit(3)
    """
)


def test_cli_samples_every_thread_daemons_included_and_keeps_the_exit_status(tmp_path):
    script = tmp_path / "threaded.py"
    script.write_text(THREADED)
    out = tmp_path / "r.json"
    r = cli("-o", out, "--show-all", "--threshold", "0", script)
    # Daemon threads still running at exit: no hang, no crash, status kept.
    assert r.returncode == 3, r.stderr
    assert r.stdout == "done\n"
    doc = json.loads(out.read_text())
    tops = {doc["frames"][n["frame"]]["name"].split(" (tid ")[0] for n in doc["nodes"] if n["parent"] == 0}
    assert tops == {"MainThread", "worker", "spinner", "napper"}

    # --thread shows one of them; an unknown one is a one-line error.
    r = cli("--thread", "worker", "--show-all", script)
    assert r.returncode == 3
    assert "worker (tid" in r.stderr and "spinner (tid" not in r.stderr and "MainThread" not in r.stderr
    r = cli("--thread", "nobody", script)
    assert r.returncode == 3  # the program's status wins
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "no thread named or numbered 'nobody'" in errors[0]
    assert "worker (tid" in errors[0]


def test_cli_main_thread_only(tmp_path):
    script = tmp_path / "threaded.py"
    script.write_text(THREADED)
    out = tmp_path / "r.json"
    r = cli("--main-thread", "-o", out, "--show-all", "--threshold", "0", script)
    assert r.returncode == 3, r.stderr
    doc = json.loads(out.read_text())
    names = {f["name"] for f in doc["frames"]}
    assert "crunch" not in names and "forever" not in names
    assert [doc["frames"][n["frame"]]["name"] for n in doc["nodes"] if n["parent"] == 0] == ["<module>"]


def test_the_text_report_marks_waiting_nodes():
    def napper():
        time.sleep(0.3)

    with Profiler(all_threads=True) as p:
        th = threading.Thread(target=napper, name="napper")
        th.start()
        busy(0.1)
        th.join()
    text = p.last_session.render("text", show_all=True, threshold=0)
    # The function that slept, or the time.sleep under it when a sample saw
    # the call return: one of them is marked.
    nap = p.last_session.render("text", show_all=True, threshold=0, thread="napper")
    assert "% waiting]" in nap, nap
    busy_lines = [line for line in text.splitlines() if " busy  " in line]
    assert busy_lines and not any("waiting]" in line for line in busy_lines), busy_lines
    # Sorted and shown by CPU time: no waiting marks.
    assert "waiting]" not in p.last_session.render("text", time="cpu", show_all=True, threshold=0)
