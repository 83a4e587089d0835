"""Overhead of stroboscope next to pyinstrument and cProfile.

Each measurement runs one workload in a fresh child process under one
profiler, timed inside the child (so start-up is excluded), the fastest of
three runs. The profilers
are alternated (none, stroboscope, pyinstrument, cProfile, none, ...) for
--rounds rounds, and the medians give the slowdown ratios against the
unprofiled median of the same workload. It also prints each sampler's
achieved samples per second.

    python tests/benchmarks/overhead.py [--rounds 7] [--interval 0.001]
        [--workloads call-heavy,deep-recursion] [--profilers none,stroboscope]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r})
sys.setrecursionlimit(5000)
import workloads
fn = workloads.WORKLOADS[{workload!r}]
mode = {mode!r}
interval = {interval!r}
fn()  # warm up (imports, caches, specialisation) before timing
def once():
    samples = None
    if mode == "none":
        t0 = time.perf_counter(); fn(); dt = time.perf_counter() - t0
    elif mode == "stroboscope":
        import stroboscope
        p = stroboscope.Profiler(interval=interval)
        t0 = time.perf_counter(); p.start(); fn(); s = p.stop(); dt = time.perf_counter() - t0
        samples = s.sample_count
    elif mode == "pyinstrument":
        import pyinstrument
        p = pyinstrument.Profiler(interval=interval)
        t0 = time.perf_counter(); p.start(); fn(); s = p.stop(); dt = time.perf_counter() - t0
        samples = s.sample_count
    elif mode == "cProfile":
        import cProfile
        p = cProfile.Profile()
        t0 = time.perf_counter(); p.enable(); fn(); p.disable(); dt = time.perf_counter() - t0
    return dt, samples
# The fastest of three runs: a run slowed by the machine's other work is
# noise, not overhead.
dt, samples = min(once() for _ in range(3))
print(json.dumps({{"seconds": dt, "samples": samples}}))
"""


def run_one(workload, mode, interval):
    code = CHILD.format(here=HERE, workload=workload, mode=mode, interval=interval)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--interval", type=float, default=0.001)
    ap.add_argument("--workloads", default="call-heavy,object-oriented,stdlib-heavy,deep-recursion")
    ap.add_argument("--profilers", default="none,stroboscope,pyinstrument,cProfile")
    args = ap.parse_args()
    modes = args.profilers.split(",")
    if "none" not in modes:
        modes.insert(0, "none")
    available = []
    for m in modes:
        try:
            if m in ("stroboscope", "pyinstrument"):
                __import__(m)
            available.append(m)
        except ImportError:
            print(f"(skipping {m}: not installed)", file=sys.stderr)
    print(f"Python {sys.version.split()[0]}, interval {args.interval * 1000:g} ms, "
          f"{args.rounds} alternating rounds, medians")
    print(f"command: python tests/benchmarks/overhead.py --rounds {args.rounds} "
          f"--interval {args.interval} --workloads {args.workloads} --profilers {','.join(available)}")
    header = f"{'workload':<16} {'base s':>7} " + " ".join(f"{m:>22}" for m in available if m != "none")
    print(header)
    for w in args.workloads.split(","):
        times = {m: [] for m in available}
        samples = {m: [] for m in available}
        for _ in range(args.rounds):
            for m in available:
                r = run_one(w, m, args.interval)
                times[m].append(r["seconds"])
                if r["samples"] is not None:
                    samples[m].append(r["samples"] / r["seconds"])
        base = statistics.median(times["none"])
        cells = []
        for m in available:
            if m == "none":
                continue
            ratio = statistics.median(times[m]) / base
            rate = f" {statistics.median(samples[m]):6.0f}/s" if samples[m] else " " * 8
            cells.append(f"{ratio:12.3f}x{rate}")
        print(f"{w:<16} {base:7.3f} " + " ".join(f"{c:>22}" for c in cells))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
