"""Sizes of what stroboscope and pyinstrument write for the same run.

One workload (a mix of pure-Python calls with recursion, objects, json, re
and time.sleep, from workloads.py) loops for a fixed wall time under one
profiler at a time, each in a fresh child process: stroboscope with the
timeline, stroboscope without it, then pyinstrument, alternated for --rounds
rounds. Each child saves its session file (stroboscope's session file,
pyinstrument's .pyisession) and its HTML report, and reports their sizes in
bytes, raw and gzipped. The table shows the medians and the ratios
pyinstrument / stroboscope. Each HTML file carries everything its page can
show: stroboscope's the whole session (tree, CPU times, the timeline when
recorded), pyinstrument's its own session.

    python tests/benchmarks/sizes.py [--seconds 5] [--rounds 1] [--interval 0.001]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import gzip, json, os, sys, tempfile, time
sys.path.insert(0, {here!r})
sys.setrecursionlimit(5000)
import workloads
mode, seconds, interval = {mode!r}, {seconds!r}, {interval!r}

def work():
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        workloads.call_heavy(16)
        workloads.object_oriented(3000)
        workloads.stdlib_heavy(3)
        workloads.deep_recursion(2, 200)
        time.sleep(0.005)
        n += 1
    return n

def sizes(path):
    with open(path, "rb") as f:
        data = f.read()
    return [len(data), len(gzip.compress(data, 6))]

out = {{}}
with tempfile.TemporaryDirectory() as d:
    session_path = os.path.join(d, "session")
    html_path = os.path.join(d, "report.html")
    if mode.startswith("stroboscope"):
        import stroboscope
        p = stroboscope.Profiler(interval=interval, timeline=(mode == "stroboscope+timeline"))
        p.start(); work(); s = p.stop()
        s.save(session_path)
        out["samples"] = s.sample_count
        out["session"] = sizes(session_path)
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(s.render("html"))
        out["html"] = sizes(html_path)
    else:
        import pyinstrument
        p = pyinstrument.Profiler(interval=interval)
        p.start(); work(); s = p.stop()
        s.save(session_path)
        out["samples"] = s.sample_count
        out["session"] = sizes(session_path)
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(p.output_html())
        out["html"] = sizes(html_path)
print(json.dumps(out))
"""

MODES = ("stroboscope+timeline", "stroboscope", "pyinstrument")


def run_one(mode, seconds, interval):
    code = CHILD.format(here=HERE, mode=mode, seconds=seconds, interval=interval)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs, key, i):
    values = [r[key][i] for r in runs if key in r]
    return statistics.median(values) if values else None


def fmt_bytes(n):
    return "n/a" if n is None else f"{n:,.0f}"


def fmt_ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.1f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.001)
    args = ap.parse_args()
    for m in ("stroboscope", "pyinstrument"):
        try:
            __import__(m)
        except ImportError:
            sys.exit(f"sizes.py needs {m} installed")
    print(f"Python {sys.version.split()[0]}, interval {args.interval * 1000:g} ms, "
          f"{args.seconds:g} s of the mixed workload per run, {args.rounds} alternating "
          f"round(s), medians")
    print(f"command: python tests/benchmarks/sizes.py --seconds {args.seconds:g} "
          f"--rounds {args.rounds} --interval {args.interval}")
    runs = {m: [] for m in MODES}
    for _ in range(args.rounds):
        for m in MODES:
            runs[m].append(run_one(m, args.seconds, args.interval))

    def med(mode, key, i=0):
        return median_of(runs[mode], key, i)

    print()
    print(f"{'':34} {'bytes':>12} {'gzip -6':>12} {'samples':>8} {'bytes/sample':>13}")
    for label, mode, key in (
        ("pyinstrument .pyisession", "pyinstrument", "session"),
        ("stroboscope session, timeline", "stroboscope+timeline", "session"),
        ("stroboscope session, no timeline", "stroboscope", "session"),
        ("pyinstrument HTML", "pyinstrument", "html"),
        ("stroboscope HTML, timeline", "stroboscope+timeline", "html"),
        ("stroboscope HTML, no timeline", "stroboscope", "html"),
    ):
        samples = statistics.median(r["samples"] for r in runs[mode])
        size = med(mode, key)
        per = "n/a" if size is None or not samples else f"{size / samples:.1f}"
        print(f"{label:34} {fmt_bytes(size):>12} {fmt_bytes(med(mode, key, 1)):>12} "
              f"{samples:8.0f} {per:>13}")
    print()
    print(f"{'pyinstrument / stroboscope':34} {'timeline':>12} {'no timeline':>12} {'goal':>8}")
    for label, key, goal in (("session file", "session", ">= 20x"), ("session file, gzipped", "session", ""),
                             ("HTML", "html", ">= 10x")):
        i = 1 if "gzipped" in label else 0
        pyi = med("pyinstrument", key, i)
        print(f"{label:34} {fmt_ratio(pyi, med('stroboscope+timeline', key, i)):>12} "
              f"{fmt_ratio(pyi, med('stroboscope', key, i)):>12} {goal:>8}")


if __name__ == "__main__":
    main()
