"""The engine through the Profiler API: sampling, attribution, safety."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import stroboscope
from stroboscope import Profiler, ProfilerError

SIGNAL_PATH = sys.version_info < (3, 12)


def busy(seconds):
    """Burns `seconds` of this thread's CPU time (not wall time: on a loaded
    machine a wall-time loop may get little CPU, and tests check CPU)."""
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += sum(i * i for i in range(200))
    return n


def sleeper(seconds):
    time.sleep(seconds)


def caught_signals():
    """The set of signals this process has a handler for (from the kernel)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16)
    raise AssertionError("no SigCgt line")


def nodes_by_name(session, **view):
    doc = json.loads(session.render("json", **view))
    frames = doc["frames"]
    out = {}
    for node in doc["nodes"]:
        if node["frame"] is None:
            continue
        out.setdefault(frames[node["frame"]]["name"], []).append(node)
    return doc, out


def test_samples_a_busy_loop():
    with Profiler() as p:
        busy(0.3)
    s = p.last_session
    assert s.sample_count > 50  # nominal 300; wide bound for a noisy machine
    assert 0.25 < s.duration < 5
    text = s.render("text", unicode=False, color=False)
    assert "busy" in text
    assert s.mechanism.split(", ")[0] == ("signal+setprofile" if SIGNAL_PATH else "pending-call")
    assert s.errors == []


def test_time_and_cpu_add_up():
    with Profiler() as p:
        busy(0.2)
        sleeper(0.2)
    doc, by_name = nodes_by_name(p.last_session, threshold=0)
    report = p.last_session.render("text", threshold=0, unicode=False)
    assert "busy" in by_name and "sleeper" in by_name, report
    busy_node = by_name["busy"][0]
    sleep_node = by_name["sleeper"][0]
    # Wall time: both phases about 0.2 s. CPU: busy burns it, sleep does not.
    assert 0.1 < busy_node["total_wall"] < 0.5
    assert 0.1 < sleep_node["total_wall"] < 0.5
    assert busy_node["total_cpu"] > 0.05
    assert sleep_node["total_cpu"] < 0.5 * sleep_node["total_wall"]


def many_short_sleeps():
    for _ in range(100):
        time.sleep(0.002)


def test_sleep_is_charged_to_the_function_that_slept():
    with Profiler() as p:
        sleeper(0.3)
        busy(0.05)
        many_short_sleeps()
    doc, by_name = nodes_by_name(p.last_session, threshold=0)
    # Never to the next function called (busy), always to the sleeper.
    assert sum(n["total_wall"] for n in by_name["sleeper"]) > 0.25
    assert sum(n["total_wall"] for n in by_name["busy"]) < 0.2
    assert sum(n["total_wall"] for n in by_name["many_short_sleeps"]) > 0.15
    if SIGNAL_PATH:
        # Where the hook saw the c_call, the C function is the leaf. (A single
        # call that began before the re-arm never reports its c_return.)
        sleeps = by_name["time.sleep"]
        assert sum(n["total_wall"] for n in sleeps) > 0.1


def test_start_twice_stop_without_start_and_recovery():
    p = Profiler()
    with pytest.raises(ProfilerError):
        p.stop()
    p.start()
    with pytest.raises(ProfilerError):
        p.start()
    p.stop()
    with pytest.raises(ProfilerError):
        p.stop()
    assert issubclass(ProfilerError, RuntimeError)
    # Works again afterwards.
    with Profiler() as p2:
        busy(0.05)
    assert p2.last_session.sample_count > 0
    assert sys.getprofile() is None


def test_stop_from_another_thread_raises():
    p = Profiler()
    p.start()
    errors = []

    def other():
        try:
            p.stop()
        except ProfilerError as e:
            errors.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 1 and "thread" in str(errors[0])
    assert p.is_running
    p.stop()
    assert not p.is_running


def test_profiles_a_non_main_thread():
    result = {}

    def work():
        with Profiler() as p:
            busy(0.2)
        result["s"] = p.last_session

    t = threading.Thread(target=work)
    t.start()
    t.join()
    s = result["s"]
    assert s.sample_count > 20
    assert "busy" in s.render("text")


def test_existing_profile_function_is_restored():
    calls = []

    def prof(frame, event, arg):
        calls.append(event)

    sys.setprofile(prof)
    try:
        with Profiler():
            busy(0.05)
        assert sys.getprofile() is prof
        calls.clear()
        busy(0.001)
        assert calls, "the saved profile function must receive events again"
    finally:
        sys.setprofile(None)


def test_program_installing_its_own_profiler_while_we_run():
    events = []

    def prof(frame, event, arg):
        events.append(event)

    with Profiler() as p:
        busy(0.05)
        sys.setprofile(prof)
        busy(0.05)
        sys.setprofile(None)
    s = p.last_session
    assert events, "the program's own profile function must work"
    if SIGNAL_PATH:
        # One profile slot per thread: ours stepped aside and says so.
        assert any("stepped aside" in e for e in s.errors)
    else:
        # 3.12+: sampling does not use the profile slot at all.
        assert s.errors == []


def test_signal_dispositions_restored_and_program_handlers_kept():
    got = []
    old = signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
    try:
        before = caught_signals()
        with Profiler():
            busy(0.05)
            os.kill(os.getpid(), signal.SIGUSR1)
            busy(0.05)
        assert caught_signals() == before
        assert got == [1]
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_sleep_is_not_broken_by_the_rearm_signal():
    # PEP 475 retries sleep after EINTR; the full time must still elapse.
    with Profiler():
        t0 = time.monotonic()
        time.sleep(0.2)
        elapsed = time.monotonic() - t0
    assert elapsed >= 0.2


def test_deep_recursion_does_not_spiral():
    sys.setrecursionlimit(20000)

    def down(n):
        if n == 0:
            return busy(0.3)
        return down(n - 1)

    t = threading.Thread(target=lambda: None)  # keep the main stack modest
    t.start()
    t.join()
    with Profiler() as p:
        down(9000)
    s = p.last_session
    assert s.sample_count > 5
    text = s.render("text", unicode=False)
    # Direct recursion is folded, so the report stays small.
    assert len(text) < 20000
    assert "down" in text


def test_hostile_function_names_are_escaped():
    def f():
        busy(0.1)

    evil = "evil\x1b[31m\x00\n\u2028\udcff</script>"
    f.__code__ = f.__code__.replace(co_name=evil, **({"co_qualname": evil} if sys.version_info >= (3, 11) else {}))
    with Profiler() as p:
        f()
    text = p.last_session.render("text", unicode=True, color=False, threshold=0)
    assert "\x1b" not in text and "\x00" not in text
    assert "evil" in text
    doc = json.loads(p.last_session.render("json", threshold=0))
    names = [fr["name"] for fr in doc["frames"]]
    assert any(n.startswith("evil") for n in names)
    # The frame table round-trips the exact name, lone surrogate included.
    assert evil in [fr[0] for fr in p.last_session.frames()]


def test_many_start_stop_cycles_do_not_leak():
    def rss_kb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

    for _ in range(20):
        with Profiler():
            busy(0.002)
    before = rss_kb()
    for _ in range(300):
        with Profiler() as p:
            busy(0.002)
        p.last_session.render("text")
    assert rss_kb() - before < 8000  # a leak of even 30 KB a cycle would show


def test_fork_child_inherits_no_running_sampler():
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    with Profiler() as p:
        busy(0.02)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            ok = not p.is_running
            busy(0.05)  # no timer: nothing must fire or crash here
            os.write(w, b"1" if ok else b"0")
            os._exit(0)
        os.close(w)
        child_ok = os.read(r, 1)
        os.close(r)
        _, status = os.waitpid(pid, 0)
    assert child_ok == b"1"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert p.last_session.sample_count > 0


def test_never_stopped_profiler_lets_the_process_exit(tmp_path):
    prog = tmp_path / "leave_running.py"
    prog.write_text(
        textwrap.dedent(
            """
            import threading, time, stroboscope
            p = stroboscope.Profiler()
            p.start()
            def t():
                q = stroboscope.Profiler(); q.start()
                time.sleep(0.05)
            th = threading.Thread(target=t); th.start(); th.join()
            x = sum(i for i in range(200000))
            print("done")
            """
        )
    )
    r = subprocess.run([sys.executable, str(prog)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "done"


def test_profile_decorator_and_context_manager(capsys):
    @stroboscope.profile
    def work():
        return busy(0.05)

    assert work() > 0
    err = capsys.readouterr().err
    assert "work" in err

    with stroboscope.profile():
        busy(0.05)
    assert "busy" in capsys.readouterr().err


def test_output_text_and_print(capsys):
    with Profiler() as p:
        busy(0.05)
    assert "busy" in p.output_text(unicode=False, color=False)
    p.print()
    assert "busy" in capsys.readouterr().out


def test_no_samples_recorded():
    p = Profiler(interval=1.0)
    p.start()
    s = p.stop()
    assert s.sample_count == 0
    assert "no samples recorded" in s.render("text")


def test_interval_is_validated():
    with pytest.raises(ValueError):
        Profiler(interval=0)
    with pytest.raises(ValueError):
        Profiler(interval=100)


def test_a_thread_blocked_in_c_gets_one_rearm_not_one_per_interval():
    """time.sleep retries nanosleep() inside C (PEP 475), as careful C code
    does on EINTR: while it is blocked no Python event happens, so the hook
    stays armed and the timer sends nothing more."""
    p = Profiler()
    p.start()
    busy(0.01)
    before = p._sampler.rearm_count
    time.sleep(0.5)
    during = p._sampler.rearm_count - before
    p.stop()
    # 500 intervals passed; one re-arm request, plus one spare for a race.
    assert during <= 2


def test_blocked_time_goes_to_the_line_that_blocked():
    import inspect

    def waits():
        x = 1
        time.sleep(0.3)
        return x

    sleep_line = inspect.getsourcelines(waits)[1] + 2
    with Profiler() as p:
        waits()
        busy(0.02)
    doc, by_name = nodes_by_name(p.last_session, threshold=0)
    (node,) = by_name["test_blocked_time_goes_to_the_line_that_blocked.<locals>.waits"
                      if sys.version_info >= (3, 11) else "waits"]
    assert node["total_wall"] > 0.25
    assert node["line"] in (sleep_line, sleep_line + 1)  # the call, or the return after it


def test_a_loop_right_before_stop_is_charged_to_its_function():
    # The call of stop() is the event that samples: its frames are ours and
    # left out, so the leaf is the caller, which gets the loop's time (not
    # the caller's caller).
    def loop_then_stop(p):
        n = 0
        end = time.thread_time() + 0.1
        while time.thread_time() < end:
            n += 1
        p.stop()

    p = Profiler()
    p.start()
    loop_then_stop(p)
    _, by_name = nodes_by_name(p.last_session)
    (node,) = [n for name, ns in by_name.items() if name.endswith("loop_then_stop") for n in ns]  # 3.9: no qualname
    assert node["self_wall"] > 0.08


def test_timer_kind_is_in_the_session_and_can_be_turned_off():
    code = "import stroboscope\nwith stroboscope.Profiler() as p: pass\nprint(p.last_session.mechanism)"
    env = dict(os.environ, STROBOSCOPE_TIMER="normal")
    normal = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert normal.returncode == 0, normal.stderr
    assert "realtime" not in normal.stdout
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    base = "signal+setprofile" if SIGNAL_PATH else "pending-call"
    assert default.stdout.strip() in (base, base + ", realtime timer")
    # When this process may use SCHED_FIFO, the timer does.
    probe = "import os\nos.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0:
        assert default.stdout.strip() == base + ", realtime timer"
