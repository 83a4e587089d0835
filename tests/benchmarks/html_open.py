"""How long the HTML report of a long run takes to open in a browser.

A child process profiles, for --seconds at --interval with the timeline, a
workload that makes many distinct stacks (random call paths through 300
functions, as in memory.py, plus the mixed workload of sizes.py), and
writes the HTML report. Headless Chromium (Debian's, through Playwright,
never a downloaded browser) then opens the file --rounds times, each in a
fresh page; the time is from navigation to the first call-tree row painted
(the page parsed its payload, built the view and drew it), and also to the
flame graph drawn after a click. The table shows each run and the median.

    python tests/benchmarks/html_open.py [--seconds 60] [--interval 0.001] [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import random, sys, time
sys.path.insert(0, {here!r})
import stroboscope, workloads
seconds, interval, out = {seconds!r}, {interval!r}, {out!r}
ns = {{}}
for i in range(300):
    exec(f"def f{{i}}(d, r):\n    if d == 0:\n        return sum(range(50))\n"
         f"    return FN[r.randrange(300)](d - 1, r)\n", ns)
FN = [ns[f"f{{i}}"] for i in range(300)]
ns["FN"] = FN
r = random.Random(1)
p = stroboscope.Profiler(interval=interval, timeline=True)
p.start()
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    FN[r.randrange(300)](8, r)
    workloads.stdlib_heavy(1)
s = p.stop()
p.write_html(out)
print(s.sample_count, len(s.frames()))
"""

CHROMIUM = os.environ.get("STROBOSCOPE_CHROMIUM", "/usr/bin/chromium")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=0.001)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "report.html")
        code = CHILD.format(here=here, seconds=args.seconds, interval=args.interval, out=out)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        samples, frames = res.stdout.split()
        size = os.path.getsize(out)
        print(f"Python {sys.version.split()[0]}: {args.seconds:g} s at {args.interval * 1000:g} ms, "
              f"{int(samples):,} samples, {int(frames):,} frames, HTML {size:,} bytes")
        print(f"command: python tests/benchmarks/html_open.py --seconds {args.seconds:g} "
              f"--interval {args.interval} --rounds {args.rounds}")
        tree, flame = [], []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for _ in range(args.rounds):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                t0 = time.perf_counter()
                page.goto("file://" + out)
                page.wait_for_selector("#rows .row")
                tree.append(time.perf_counter() - t0)
                t1 = time.perf_counter()
                page.click("[data-tab=flame]")
                page.wait_for_selector("#flame-box canvas")
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
                flame.append(time.perf_counter() - t1)
                page.close()
            browser.close()
    print("open to first call-tree row, s: " + " ".join(f"{t:.3f}" for t in tree)
          + f"   median {statistics.median(tree):.3f}")
    print("click to flame graph drawn, s:  " + " ".join(f"{t:.3f}" for t in flame)
          + f"   median {statistics.median(flame):.3f}")


if __name__ == "__main__":
    main()
