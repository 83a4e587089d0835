"""Attribution accuracy on a workload in phases with known wall-time shares.

Each cycle runs a pure-Python loop, then C calls (json.loads), then
time.sleep; the true time of every phase is measured around it with
perf_counter. A profiler's share for a phase is its phase function's total
wall time over the three phases' sum. The table shows each share's error in
percentage points, for stroboscope's weighting ("split": the re-arm time
splits the unknown part of each gap), plain elapsed-time weighting, and
pyinstrument, each run --rounds times alternately (medians).

    python tests/benchmarks/accuracy.py [--seconds 3] [--interval 0.001] [--rounds 3]

A second table is the threaded case (Profiler(all_threads=True)): three
threads run the same phases in different proportions at once (sharing the
GIL); for each thread, the share of each phase in that thread's wall time
and in its CPU time (time.thread_time around each phase) against what the
profiler put under that thread's root.
"""

import argparse
import json
import statistics
import sys
import time

PHASES = ("phase_python", "phase_c", "phase_sleep")
BIG = json.dumps([{"k": i, "v": [i] * 20, "s": "x" * 30} for i in range(300)])


def phase_python(n):
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


def phase_c(n):
    for _ in range(n):
        json.loads(BIG)


def phase_sleep(seconds):
    time.sleep(seconds)


def calibrate(target_s):
    """Iteration counts that make the Python and C phases last target_s."""

    def per_call(fn, n):
        t0 = time.perf_counter()
        fn(n)
        return (time.perf_counter() - t0) / n

    py = max(1, int(target_s / per_call(phase_python, 20000)))
    c = max(1, int(target_s / per_call(phase_c, 20)))
    return py, c


def run_cycles(seconds, phase_ms=(10, 10, 10), counts=None, cpu=None):
    """Runs the phases for about `seconds`; returns the true seconds per phase
    (and adds each phase's CPU seconds into `cpu` when given)."""
    py_n, c_n = counts or (calibrate(phase_ms[0] / 1000)[0], calibrate(phase_ms[1] / 1000)[1])
    truth = dict.fromkeys(PHASES, 0.0)
    steps = ((phase_python, py_n), (phase_c, c_n), (phase_sleep, phase_ms[2] / 1000))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for fn, arg in steps:
            t0, c0 = time.perf_counter(), time.thread_time()
            fn(arg)
            truth[fn.__name__] += time.perf_counter() - t0
            if cpu is not None:
                cpu[fn.__name__] += time.thread_time() - c0
    return truth


def shares(times):
    total = sum(times.values())
    return {k: 100.0 * v / total for k, v in times.items()}


def stroboscope_times(session, key="total_wall", thread=None):
    doc = json.loads(session.render("json", threshold=0, show_all=True, thread=thread))
    frames = doc["frames"]
    out = dict.fromkeys(PHASES, 0.0)
    for node in doc["nodes"]:
        name = frames[node["frame"]]["name"].split(".")[-1] if node["frame"] is not None else None
        if name in out:
            out[name] += node[key]
    return out


# The threaded case: (thread name, milliseconds of python, C, sleep per cycle).
THREADS = (("even", (10, 10, 10)), ("cpu-bound", (20, 10, 5)), ("mostly-asleep", (5, 5, 20)))


def measure_threaded(seconds, interval):
    import threading

    import stroboscope

    truth = {name: {} for name, _ in THREADS}
    # Calibrated here, before profiling: calibration runs the phase functions.
    counts = {name: (calibrate(ms[0] / 1000)[0], calibrate(ms[1] / 1000)[1]) for name, ms in THREADS}

    def run(name, phase_ms):
        cpu = dict.fromkeys(PHASES, 0.0)
        start.wait()
        wall = run_cycles(seconds, phase_ms, counts[name], cpu)
        truth[name] = {"wall": wall, "cpu": cpu}

    start = threading.Event()
    threads = [threading.Thread(target=run, args=t, name=t[0]) for t in THREADS]
    for t in threads:
        t.start()
    p = stroboscope.Profiler(interval=interval, all_threads=True)
    p.start()
    start.set()
    for t in threads:
        t.join()
    s = p.stop()
    errors = {}
    for name, _ in THREADS:
        for kind, key in (("wall", "total_wall"), ("cpu", "total_cpu")):
            got = shares(stroboscope_times(s, key, thread=name))
            true = shares(truth[name][kind])
            errors[(name, kind)] = {k: got[k] - true[k] for k in PHASES}
    return errors


def pyinstrument_times(session):
    out = dict.fromkeys(PHASES, 0.0)
    stack = [session.root_frame()]
    while stack:
        f = stack.pop()
        if f is None:
            continue
        if f.function in out:
            out[f.function] += f.time
        else:
            stack.extend(f.children)
    return out


def measure(profiler, seconds, interval, counts):
    if profiler.startswith("stroboscope"):
        import stroboscope

        estimator = profiler.split(":")[1]
        p = stroboscope.Profiler(interval=interval, estimator=estimator)
        p.start()
        truth = run_cycles(seconds, counts=counts)
        s = p.stop()
        return truth, stroboscope_times(s)
    import pyinstrument

    p = pyinstrument.Profiler(interval=interval)
    p.start()
    truth = run_cycles(seconds, counts=counts)
    s = p.stop()
    return truth, pyinstrument_times(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--interval", type=float, default=0.001)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    profilers = ["stroboscope:split", "stroboscope:elapsed"]
    try:
        import pyinstrument  # noqa: F401

        profilers.append("pyinstrument")
    except ImportError:
        pass
    counts = (calibrate(0.010)[0], calibrate(0.010)[1])
    errors = {p: {k: [] for k in PHASES} for p in profilers}
    for _ in range(args.rounds):
        for prof in profilers:
            truth, got = measure(prof, args.seconds, args.interval, counts)
            ts, gs = shares(truth), shares(got)
            for k in PHASES:
                errors[prof][k].append(gs[k] - ts[k])
    print(f"Python {sys.version.split()[0]}, interval {args.interval * 1000:g} ms, "
          f"{args.seconds:g} s per run, {args.rounds} alternating rounds; "
          "error = measured share - true share, percentage points (median)")
    print("command: python tests/benchmarks/accuracy.py "
          f"--seconds {args.seconds:g} --interval {args.interval} --rounds {args.rounds}")
    print(f"{'profiler':<22}" + "".join(f"{k:>14}" for k in PHASES) + f"{'max |error|':>13}")
    for prof in profilers:
        med = {k: statistics.median(v) for k, v in errors[prof].items()}
        worst = max(abs(v) for v in med.values())
        print(f"{prof:<22}" + "".join(f"{med[k]:>+14.2f}" for k in PHASES) + f"{worst:>13.2f}")

    runs = [measure_threaded(args.seconds, args.interval) for _ in range(args.rounds)]
    print()
    print("threaded, stroboscope all_threads: each thread's share of its own wall / CPU time")
    print(f"{'thread, time':<22}" + "".join(f"{k:>14}" for k in PHASES) + f"{'max |error|':>13}")
    for key in runs[0]:
        med = {k: statistics.median(r[key][k] for r in runs) for k in PHASES}
        worst = max(abs(v) for v in med.values())
        label = f"{key[0]}, {key[1]}"
        print(f"{label:<22}" + "".join(f"{med[k]:>+14.2f}" for k in PHASES) + f"{worst:>13.2f}")


if __name__ == "__main__":
    main()
