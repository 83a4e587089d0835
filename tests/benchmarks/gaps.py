"""The gaps between consecutive samples, from the timeline.

A gap is the interval plus the re-arm latency plus the cost of the sample
before it; its percentiles show where the achieved sample rate goes (a long
tail means re-arms that were lost and re-sent).

    python tests/benchmarks/gaps.py [--interval 0.001] [workload ...]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.setrecursionlimit(5000)

import workloads  # noqa: E402

import stroboscope  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=0.001)
    ap.add_argument("workloads", nargs="*", default=list(workloads.WORKLOADS))
    args = ap.parse_args()
    print(f"Python {sys.version.split()[0]}, interval {args.interval * 1000:g} ms")
    print(f"command: python tests/benchmarks/gaps.py --interval {args.interval} {' '.join(args.workloads)}")
    for name in args.workloads:
        fn = workloads.WORKLOADS[name]
        fn()  # warm up
        p = stroboscope.Profiler(interval=args.interval, timeline=True)
        with p:
            fn()
        tl = p.last_session.timeline
        gaps = sorted((b[0] - a[0]) * 1e6 for a, b in zip(tl, tl[1:]))
        q = lambda f: gaps[int(f * (len(gaps) - 1))]  # noqa: E731
        print(f"{name:<16} {len(tl):5d} samples   gap us: p10 {q(.1):6.0f}  p50 {q(.5):6.0f}"
              f"  p90 {q(.9):6.0f}  p99 {q(.99):6.0f}")


if __name__ == "__main__":
    main()
