"""Peak memory of a long profiled run against the same run unprofiled.

A child process runs a workload with many distinct stacks (so the call tree
has real work to do) for --seconds, once unprofiled and once under
stroboscope at --interval, alternating for --rounds; the peak RSS of each
child (ru_maxrss from wait4) is compared.

    python tests/benchmarks/memory.py [--seconds 60] [--interval 0.001] [--rounds 1]
"""

import argparse
import os
import statistics
import subprocess
import sys

CHILD = r"""
import random, sys, time
mode, seconds, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
# 300 distinct functions calling each other along random paths.
ns = {}
for i in range(300):
    exec(f"def f{i}(d, r):\n    if d == 0:\n        return sum(range(50))\n"
         f"    return FN[r.randrange(300)](d - 1, r)\n", ns)
FN = [ns[f"f{i}"] for i in range(300)]
ns["FN"] = FN
r = random.Random(1)
if mode == "stroboscope":
    import stroboscope
    p = stroboscope.Profiler(interval=interval)
    p.start()
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    FN[r.randrange(300)](r.randrange(2, 5), r)
if mode == "stroboscope":
    s = p.stop()
    print(s.sample_count, file=sys.stderr)
"""


def peak_kb(mode, seconds, interval):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(seconds), str(interval)],
                            stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().strip()
    if status != 0:
        raise SystemExit(f"child failed: {err}")
    return usage.ru_maxrss, err


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=0.001)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    base, prof, samples = [], [], []
    for _ in range(args.rounds):
        base.append(peak_kb("none", args.seconds, args.interval)[0])
        kb, n = peak_kb("stroboscope", args.seconds, args.interval)
        prof.append(kb)
        samples.append(int(n))
    b, p = statistics.median(base), statistics.median(prof)
    print(f"Python {sys.version.split()[0]}, {args.seconds:g} s at {args.interval * 1000:g} ms, "
          f"{args.rounds} round(s), medians")
    print(f"command: python tests/benchmarks/memory.py --seconds {args.seconds:g} "
          f"--interval {args.interval} --rounds {args.rounds}")
    print(f"unprofiled peak RSS   {b / 1024:8.1f} MB")
    print(f"stroboscope peak RSS  {p / 1024:8.1f} MB  ({statistics.median(samples)} samples)")
    print(f"difference            {(p - b) / 1024:8.1f} MB")


if __name__ == "__main__":
    main()
