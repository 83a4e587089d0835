"""The profiler's cost per sample in instructions (callgrind), and the
slowdown it predicts at a given interval.

Wall-clock ratios (overhead.py) on a shared machine move by +-10 % between
invocations; instruction counts do not. For each workload this runs, under
``valgrind --tool=callgrind --fair-sched=yes``, a child that runs the
workload once unprofiled (warm-up) and then (a) once more unprofiled,
(b) once under ``Profiler()`` (``--all-threads``: ``Profiler(all_threads=True)``), and (c) not again; so

    workload instructions  = I(a) - I(c)
    cost per sample        = (I(b) - I(a)) / samples in (b)

(b)'s extra includes start(), stop() and the timer thread's work, so the
cost per sample is an upper bound. Under valgrind the program runs ~50x
slower while the timer keeps wall time, so (b) takes many more samples than
a native run would: only the cost per sample carries over. With the
workload's native time T (the fastest of ``--native-rounds`` in-process
runs: the least disturbed by the machine's other work),
the predicted slowdown at interval i is

    1 + (cost per sample / i) / (workload instructions / T)

i.e. the instructions of one interval's samples over the instructions the
workload runs in one interval. Kernel time (signal delivery, the timer's
wake-ups) is not counted: compare with overhead.py.

    python tests/benchmarks/cost.py [--workloads deep-recursion,call-heavy]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CHILD = r"""
import sys
sys.path.insert(0, {here!r})
sys.setrecursionlimit(5000)
import workloads, stroboscope
fn = workloads.WORKLOADS[{workload!r}]
fn()
mode = {mode!r}
if mode == "plain":
    fn()
elif mode == "profiled":
    p = stroboscope.Profiler(interval={interval!r}, all_threads={all_threads!r})
    p.start(); fn(); s = p.stop()
    print("samples", s.sample_count)
"""


def instructions(workload, mode, interval, all_threads=False):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        code = CHILD.format(here=HERE, workload=workload, mode=mode, interval=interval, all_threads=all_threads)
        r = subprocess.run(
            ["valgrind", "--tool=callgrind", "--fair-sched=yes", f"--callgrind-out-file={out}",
             sys.executable, "-c", code],
            capture_output=True, text=True, check=True,
        )
        total = int(re.search(r"Collected : (\d+)", r.stderr).group(1))
        m = re.search(r"samples (\d+)", r.stdout)
        return total, int(m.group(1)) if m else None


def native_seconds(fn, rounds):
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="call-heavy,object-oriented,stdlib-heavy,deep-recursion")
    ap.add_argument("--interval", type=float, default=0.001)
    ap.add_argument("--native-rounds", type=int, default=7)
    ap.add_argument("--all-threads", action="store_true", help="Profiler(all_threads=True)")
    args = ap.parse_args()
    import workloads

    sys.setrecursionlimit(5000)
    who = "all threads" if args.all_threads else "one thread"
    print(f"Python {sys.version.split()[0]}, interval {args.interval * 1000:g} ms, {who}")
    print("command: python tests/benchmarks/cost.py " + " ".join(sys.argv[1:]))
    print(f"{'workload':18}{'instr/run':>14}{'native s':>10}{'samples':>9}{'instr/sample':>14}{'predicted':>11}")
    for name in args.workloads.split(","):
        base, _ = instructions(name, "none", args.interval)
        plain, _ = instructions(name, "plain", args.interval)
        prof, samples = instructions(name, "profiled", args.interval, args.all_threads)
        work = plain - base
        per_sample = (prof - plain) / max(samples, 1)
        t = native_seconds(workloads.WORKLOADS[name], args.native_rounds)
        predicted = 1 + (per_sample / args.interval) / (work / t)
        print(f"{name:18}{work:14,}{t:10.3f}{samples:9}{per_sample:14,.0f}{predicted:10.3f}x")


if __name__ == "__main__":
    main()
