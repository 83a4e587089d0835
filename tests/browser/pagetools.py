"""Helpers of the browser tests: make session files and pages with the
installed stroboscope (the real renderers), as a user would."""

import json
import pathlib
import subprocess
import sys

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
