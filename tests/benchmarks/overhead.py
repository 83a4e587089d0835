"""Overhead of stroboscope next to pyinstrument and cProfile.

Each measurement runs one workload in a fresh child process under one
profiler, timed inside the child (so start-up is excluded), the fastest of
three runs. The profilers
are alternated (none, stroboscope, pyinstrument, cProfile, none, ...) for
--rounds rounds, and the medians give the slowdown ratios against the
unprofiled median of the same workload. It also prints each sampler's
achieved samples per second, and a second table with the ratios of the
profiled thread's own CPU time (time.thread_time): that counts everything
the profiler makes this thread do (signals, hooks, stack walks) but not
the time it waits for a core, so it stays meaningful on a loaded machine.

    python tests/benchmarks/overhead.py [--rounds 7] [--interval 0.001]
        [--workloads call-heavy,deep-recursion] [--profilers none,stroboscope]

Profilers: none, stroboscope (the calling thread, Profiler()),
stroboscope-all (every thread, Profiler(all_threads=True), what the
command line does), pyinstrument, cProfile. Workloads: see workloads.py;
four-threads runs four busy threads that the main thread joins (only
stroboscope-all samples them; the others see the main thread's join).
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
# CPU time: the profiled thread's, or the process's when several threads work.
cpu_clock = time.process_time if {workload!r} == "four-threads" else time.thread_time
def once():
    samples = None
    c0 = cpu_clock()
    if mode == "none":
        t0 = time.perf_counter(); fn(); dt = time.perf_counter() - t0
    elif mode in ("stroboscope", "stroboscope-all"):
        import stroboscope
        p = stroboscope.Profiler(interval=interval, all_threads=mode == "stroboscope-all")
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
    return dt, cpu_clock() - c0, samples
# The fastest of three runs: a run slowed by the machine's other work is
# noise, not overhead.
runs = [once() for _ in range(3)]
dt = min(r[0] for r in runs)
cpu = min(r[1] for r in runs)
samples = min(runs)[2]
print(json.dumps({{"seconds": dt, "cpu": cpu, "samples": samples}}))
"""


def run_one(workload, mode, interval):
    code = CHILD.format(here=HERE, workload=workload, mode=mode, interval=interval)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--interval", type=float, default=0.001)
    ap.add_argument("--workloads", default="call-heavy,object-oriented,stdlib-heavy,deep-recursion,four-threads")
    ap.add_argument("--profilers", default="none,stroboscope,stroboscope-all,pyinstrument,cProfile")
    args = ap.parse_args()
    modes = args.profilers.split(",")
    if "none" not in modes:
        modes.insert(0, "none")
    available = []
    for m in modes:
        try:
            if m in ("stroboscope", "stroboscope-all", "pyinstrument"):
                __import__(m.split("-")[0])
            available.append(m)
        except ImportError:
            print(f"(skipping {m}: not installed)", file=sys.stderr)
    print(f"Python {sys.version.split()[0]}, interval {args.interval * 1000:g} ms, "
          f"{args.rounds} alternating rounds, medians")
    print(f"command: python tests/benchmarks/overhead.py --rounds {args.rounds} "
          f"--interval {args.interval} --workloads {args.workloads} --profilers {','.join(available)}")
    header = f"{'workload':<16} {'base s':>7} " + " ".join(f"{m:>22}" for m in available if m != "none")
    print(header)
    cpu_rows = []
    for w in args.workloads.split(","):
        times = {m: [] for m in available}
        cpus = {m: [] for m in available}
        samples = {m: [] for m in available}
        for _ in range(args.rounds):
            for m in available:
                r = run_one(w, m, args.interval)
                times[m].append(r["seconds"])
                cpus[m].append(r["cpu"])
                if r["samples"] is not None:
                    samples[m].append(r["samples"] / r["seconds"])
        base = statistics.median(times["none"])
        base_cpu = statistics.median(cpus["none"])
        cells, cpu_cells = [], []
        for m in available:
            if m == "none":
                continue
            ratio = statistics.median(times[m]) / base
            rate = f" {statistics.median(samples[m]):6.0f}/s" if samples[m] else " " * 8
            cells.append(f"{ratio:12.3f}x{rate}")
            cpu_cells.append(f"{statistics.median(cpus[m]) / base_cpu:12.3f}x")
        print(f"{w:<16} {base:7.3f} " + " ".join(f"{c:>22}" for c in cells))
        cpu_rows.append(f"{w:<16} {base_cpu:7.3f} " + " ".join(f"{c:>22}" for c in cpu_cells))
        sys.stdout.flush()
    print()
    print("CPU time (time.thread_time of the profiled thread; time.process_time for four-threads),")
    print("ratio to unprofiled:")
    print(header)
    print("\n".join(cpu_rows))


if __name__ == "__main__":
    main()
