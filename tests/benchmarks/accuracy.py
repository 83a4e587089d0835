"""Attribution accuracy on a workload in phases with known wall-time shares.

Each cycle runs a pure-Python loop, then C calls (json.loads), then
time.sleep; the true time of every phase is measured around it with
perf_counter. A profiler's share for a phase is its phase function's total
wall time over the three phases' sum. The table shows each share's error in
percentage points, for stroboscope's weighting ("split": the re-arm time
splits the unknown part of each gap), plain elapsed-time weighting, and
pyinstrument, each run --rounds times alternately (medians).

    python tests/benchmarks/accuracy.py [--seconds 3] [--interval 0.001] [--rounds 3]
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


def run_cycles(seconds, phase_ms=(10, 10, 10), counts=None):
    """Runs the phases for about `seconds`; returns the true seconds per phase."""
    py_n, c_n = counts or (calibrate(phase_ms[0] / 1000)[0], calibrate(phase_ms[1] / 1000)[1])
    truth = dict.fromkeys(PHASES, 0.0)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        phase_python(py_n)
        t1 = time.perf_counter()
        phase_c(c_n)
        t2 = time.perf_counter()
        phase_sleep(phase_ms[2] / 1000)
        t3 = time.perf_counter()
        truth["phase_python"] += t1 - t0
        truth["phase_c"] += t2 - t1
        truth["phase_sleep"] += t3 - t2
    return truth


def shares(times):
    total = sum(times.values())
    return {k: 100.0 * v / total for k, v in times.items()}


def stroboscope_times(session):
    doc = json.loads(session.render("json", threshold=0, show_all=True))
    frames = doc["frames"]
    out = dict.fromkeys(PHASES, 0.0)
    for node in doc["nodes"]:
        if node["frame"] is not None and frames[node["frame"]]["name"] in out:
            out[frames[node["frame"]]["name"]] += node["total_wall"]
    return out


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


if __name__ == "__main__":
    main()
