"""Helpers of the browser tests: make session files and pages with the
installed stroboscope (the real renderers), as a user would, and compare a
page's view with the JSON report."""

import json
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def run_stroboscope(*args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "stroboscope", "--no-save", *map(str, args)],
        capture_output=True, text=True, timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"stroboscope {args} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def profile(script, out, *args, options=()):
    """Profiles a script into a session file."""
    run_stroboscope(*options, "-r", "session", "-o", out, script, *args)
    return out


def render_html(session, out, *view):
    run_stroboscope("--load", session, "-r", "html", "-o", out, *view)
    return out


def render_json(session, *view):
    out = pathlib.Path(str(session) + ".json")
    run_stroboscope("--load", session, "-r", "json", "-o", out, *view)
    return json.loads(out.read_text(encoding="utf-8"))


def painted(report, selector):
    """How many pixels of the canvas are not blank."""
    return report.page.evaluate(
        """(sel) => { const c = document.querySelector(sel);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""",
        selector,
    )


def assert_parity(rows, doc):
    """rows (window.stroboscope.viewRows()) are the JSON report's nodes."""
    nodes, frames = doc["nodes"], doc["frames"]
    assert len(rows) == len(nodes)
    depth = {}
    for r, n in zip(rows, nodes):
        depth[n["id"]] = 0 if n["parent"] is None else depth[n["parent"]] + 1
        f = n["frame"]
        want = {
            "depth": depth[n["id"]],
            "frame": -1 if f is None else f,
            "label": n.get("label", "" if f is None else frames[f]["name"]),
            "file": "" if f is None else frames[f]["file"],
            "line": n["line"],
            "hidden_count": n.get("hidden_count", 0),
            "recursion": n.get("recursion", 1),
            "samples": n["samples"],
        }
        got = {k: r[k] for k in want}
        got["recursion"] = max(1, got["recursion"])
        assert got == want, (got, want)
        for key in ("total_wall", "self_wall", "total_cpu", "self_cpu"):
            assert r[key + "_ns"] / 1e9 == pytest.approx(n[key], rel=1e-12, abs=1e-15), (key, r, n)
