"""asyncio: task-scoped profiles, [await] attribution, many tasks at once."""

import asyncio
import json
import sys
import time

import pytest

from stroboscope import Profiler, ProfilerError, _core
from test_profiler import busy as spin


def tree(session):
    """{name: [node, ...]} and the frames of the session's JSON report, and a
    function giving a node's path of names from the root."""
    doc = json.loads(session.render("json", show_all=True, threshold=0))
    frames = doc["frames"]
    nodes = {n["id"]: n for n in doc["nodes"]}

    def name(n):  # without the qualifying part: "outer", not "test.<locals>.outer"
        return None if n["frame"] is None else frames[n["frame"]]["name"].rsplit(".", 1)[-1]

    def path(n):
        out = []
        while n["parent"] is not None:
            out.append(name(n))
            n = nodes[n["parent"]]
        return out[::-1]

    by_name = {}
    for n in doc["nodes"]:
        by_name.setdefault(name(n), []).append(n)
    return doc, by_name, path


def total(by_name, fn):
    return sum(n["total_wall"] for n in by_name.get(fn, []))


def no_hook_left():
    assert sys.getprofile() is None
    assert _core.hooked_threads() == 0


async def alpha_work(rounds=5):
    for _ in range(rounds):
        spin(0.01)
        await asyncio.sleep(0.02)


async def beta_work(rounds=5):
    for _ in range(rounds):
        spin(0.02)
        await asyncio.sleep(0.005)


async def profiled(fn, **kw):
    p = Profiler(**kw)
    t0 = time.perf_counter()
    with p:
        await fn()
    return p.last_session, time.perf_counter() - t0


def test_a_task_profile_starts_at_the_task_and_awaits_are_a_leaf():
    s, wall = asyncio.run(profiled(alpha_work))
    doc, by_name, path = tree(s)
    # The task's outermost coroutine is the root: no event loop frames.
    roots = [n for n in doc["nodes"] if n["parent"] == 0]
    assert [doc["frames"][n["frame"]]["name"] for n in roots] == ["profiled"]
    for loop_fn in ("_run_once", "run_forever", "run_until_complete", "BaseEventLoop._run_once"):
        assert loop_fn not in by_name
    # The sleeps: the awaiting chain, ending in an [await] leaf, no CPU.
    aw = by_name["[await]"]
    assert all(path(n)[:2] == ["profiled", "alpha_work"] for n in aw)
    assert any("sleep" in p for n in aw for p in path(n))
    waited = total(by_name, "[await]")
    assert 0.05 < waited < wall  # 5 x 20 ms asleep
    assert sum(n["total_cpu"] for n in aw) < 0.3 * waited
    assert total(by_name, "busy") > 0.02
    # Every moment of the task is somewhere, and no more than that.
    assert s.duration <= wall + 1e-3
    assert doc["nodes"][0]["total_wall"] == pytest.approx(s.duration, rel=0.02)
    no_hook_left()


def test_concurrent_tasks_each_get_their_own_profile():
    async def main():
        return await asyncio.gather(profiled(alpha_work), profiled(beta_work), profiled(alpha_work))

    results = asyncio.run(main())
    for (s, wall), mine, other in zip(results, ["alpha_work", "beta_work", "alpha_work"],
                                      ["beta_work", "alpha_work", "beta_work"]):
        _, by_name, _ = tree(s)
        assert mine in by_name and other not in by_name
        assert s.duration <= wall + 1e-3
        # The others' running time is this task's waiting time.
        assert total(by_name, "[await]") > 0.3 * s.duration
    # beta spins twice as long as alpha per round.
    a = total(tree(results[0][0])[1], "busy")
    b = total(tree(results[1][0])[1], "busy")
    assert b > 1.2 * a
    no_hook_left()


def test_a_thousand_tasks_each_profiled():
    async def one(i):
        p = Profiler()
        t0 = time.perf_counter()
        with p:
            await asyncio.sleep(0.001 * (i % 7))
            sum(range(1000))
            await asyncio.sleep(0)
        return p.last_session, time.perf_counter() - t0

    async def main():
        return await asyncio.gather(*(one(i) for i in range(1000)))

    results = asyncio.run(main())
    assert len(results) == 1000
    for s, wall in results:
        assert s.duration <= wall + 1e-3
        doc = json.loads(s.render("json"))
        assert doc["nodes"][0]["total_wall"] <= wall + 1e-3
    no_hook_left()


def test_a_thousand_tasks_under_one_task_profiler():
    async def child(i):
        await asyncio.sleep(0.001 * (i % 5))
        return sum(range(2000))

    async def main():
        p = Profiler()
        t0 = time.perf_counter()
        with p:
            tasks = [asyncio.create_task(child(i)) for i in range(1000)]
            got = await asyncio.gather(*tasks)
            spin(0.02)
        return got, p.last_session, time.perf_counter() - t0

    got, s, wall = asyncio.run(main())
    assert len(got) == 1000
    _, by_name, path = tree(s)
    assert "child" not in by_name  # the other tasks' code is not this task's
    assert any(path(n)[-2:] == ["main", "[await]"] for n in by_name["[await]"])
    assert s.duration <= wall + 1e-3
    no_hook_left()


def test_nested_tasks_with_their_own_profilers():
    async def inner():
        spin(0.03)
        await asyncio.sleep(0.01)

    async def outer():
        inner_task = asyncio.create_task(profiled(inner))
        spin(0.01)
        return await inner_task

    async def main():
        return await outer(), await profiled(outer)

    (inner_s, _), (outer_s, _) = asyncio.run(main())
    _, inner_names, _ = tree(inner_s)
    assert "inner" in inner_names and "outer" not in inner_names
    _, by_name, path = tree(outer_s)
    assert "outer" in by_name and "inner" not in by_name
    # While the inner task ran, the outer one waited on it.
    assert any(path(n)[-2:] == ["outer", "[await]"] for n in by_name["[await]"])
    assert total(by_name, "[await]") > 0.02
    no_hook_left()


def test_gather_inside_a_profiled_task():
    async def part(n):
        await asyncio.sleep(0.01 * n)

    async def main():
        p = Profiler()
        with p:
            await asyncio.gather(part(1), part(2), part(3))
        return p.last_session

    s = asyncio.run(main())
    _, by_name, path = tree(s)
    assert "part" not in by_name  # gather runs them as tasks of their own
    assert total(by_name, "[await]") > 0.02
    no_hook_left()


def test_cancelled_task_stops_its_profiler():
    sessions = []

    async def victim():
        p = Profiler()
        try:
            with p:
                spin(0.01)
                await asyncio.sleep(10)
        finally:
            sessions.append(p.last_session)

    async def main():
        t = asyncio.create_task(victim())
        await asyncio.sleep(0.05)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    t0 = time.perf_counter()
    asyncio.run(main())
    assert time.perf_counter() - t0 < 5
    (s,) = sessions
    _, by_name, _ = tree(s)
    assert "victim" in by_name and "[await]" in by_name
    no_hook_left()


def test_stop_outside_the_task_after_it_finished():
    async def short(p):
        p.start()
        spin(0.01)
        await asyncio.sleep(0.01)

    async def main():
        p = Profiler()
        await asyncio.create_task(short(p))
        await asyncio.sleep(0.05)  # not the task's time
        t0 = time.perf_counter()
        s = p.stop()
        return s, time.perf_counter() - t0

    s, _ = asyncio.run(main())
    _, by_name, _ = tree(s)
    assert "short" in by_name
    # The 50 ms after the task ended belong to nobody in this profile.
    assert s.render("json")  # renders
    assert json.loads(s.render("json"))["nodes"][0]["total_wall"] < 0.05 + 0.04
    no_hook_left()


def test_strict_mode_marks_time_out_of_context():
    s, _ = asyncio.run(profiled(alpha_work, async_mode="strict"))
    _, by_name, path = tree(s)
    assert "[await]" not in by_name
    ooc = by_name["[out of context]"]
    assert all(path(n) == ["[out of context]"] for n in ooc)
    assert total(by_name, "[out of context]") > 0.05
    no_hook_left()


def test_disabled_mode_sees_the_event_loop():
    s, _ = asyncio.run(profiled(alpha_work, async_mode="disabled"))
    _, by_name, _ = tree(s)
    assert "[await]" not in by_name
    assert any("_run_once" in name for name in by_name if name)
    no_hook_left()


def test_a_profiler_started_outside_the_loop_sees_the_whole_thread():
    with Profiler() as p:
        asyncio.run(alpha_work(3))
    _, by_name, _ = tree(p.last_session)
    assert "alpha_work" in by_name and "run" in by_name
    assert "[await]" not in by_name
    no_hook_left()


def test_bad_async_mode():
    with pytest.raises(ValueError, match="async_mode"):
        Profiler(async_mode="sometimes")


def test_a_thread_profiler_and_a_task_profiler_on_one_thread():
    async def main():
        p = Profiler()
        with pytest.raises(ProfilerError):
            p.start()
        assert not p.is_running

    with Profiler():
        asyncio.run(main())
    no_hook_left()

    async def other_way():
        with Profiler():
            # the thread's own profiler cannot join this task's
            with pytest.raises(ProfilerError):
                Profiler(async_mode="disabled").start()
            # another task profiler with another interval
            with pytest.raises(ProfilerError):
                Profiler(interval=0.002).start()
        return True

    assert asyncio.run(other_way())
    no_hook_left()


def test_starting_twice_in_a_task():
    async def main():
        p = Profiler()
        p.start()
        with pytest.raises(ProfilerError):
            p.start()
        s = p.stop()
        with pytest.raises(ProfilerError):
            p.stop()
        return s

    assert asyncio.run(main()).duration >= 0
    no_hook_left()


class UserAwaitable:
    """An awaitable whose attributes would run user code if touched."""

    def __await__(self):
        yield from asyncio.sleep(0.02).__await__()

    def __getattr__(self, name):
        raise AssertionError(f"the profiler read {name}")


def test_awaiting_user_objects_runs_no_user_code():
    async def main():
        p = Profiler()
        with p:
            await UserAwaitable()
            spin(0.005)
        return p.last_session

    s = asyncio.run(main())
    _, by_name, _ = tree(s)
    assert total(by_name, "[await]") > 0.01
    no_hook_left()


def test_the_example_prints_one_report_per_task():
    import subprocess
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "async_tasks.py"
    r = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    reports = dict(part.split("\n", 1) for part in r.stdout.split("--- ")[1:])
    assert sorted(reports) == ["fast I/O", "no I/O", "slow I/O"]
    for text in reports.values():
        assert "handle" in text and "crunch" in text
        assert "_run_once" not in text and "gather" not in text
    assert "[await]" in reports["slow I/O"] and "[await]" in reports["fast I/O"]


def test_many_start_stop_cycles_of_task_profiles_do_not_leak():
    import os

    def rss_kb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

    async def one():
        with Profiler() as p:
            spin(0.001)
            await asyncio.sleep(0)
        p.last_session.render("text")

    async def rounds(n, width):
        for _ in range(n):
            await asyncio.gather(*(one() for _ in range(width)))

    asyncio.run(rounds(5, 4))
    before = rss_kb()
    asyncio.run(rounds(100, 4))  # 400 profiles, 4 at once
    assert rss_kb() - before < 8000
    no_hook_left()
