"""The HTML report from Python and the command line: one self-contained page
whose only data is an escaped JSON payload (the page itself is driven in a
real browser by tests/browser/)."""

import json
import os
import re
import stat
import subprocess
import sys
import textwrap

import stroboscope
from stroboscope import Profiler, Session

DATA_OPEN = '<script id="strobe-data" type="application/json">'


def payload_of(page):
    """The report payload, checked to be the page's only data."""
    assert page.startswith("<!DOCTYPE html>")
    start = page.index(DATA_OPEN) + len(DATA_OPEN)
    end = page.index("</script>", start)
    raw = page[start:end]
    # Nothing from the program can end the block, open a comment or break a
    # script line.
    assert "<" not in raw and ">" not in raw
    assert "\u2028" not in raw and "\u2029" not in raw
    return json.loads(raw)


def busy():
    return sum(i * i for i in range(300000))


def frame_names(payload):
    strings = payload["session"]["strings"]
    return {strings[f[0]] for f in payload["session"]["frames"]}


def test_output_html_and_write_html(tmp_path):
    p = Profiler()
    with p:
        busy()
    page = p.output_html()
    data = payload_of(page)
    assert data["format"] == "stroboscope-report" and data["version"] == 1
    assert "busy" in frame_names(data)
    assert len(data["library"]) == len(data["session"]["frames"])
    assert set(data["library"]) <= {"0", "1"}
    assert data["options"]["explicit"] is False and data["options"]["threshold"] == 1.0
    # The payload carries the whole session: it loads as a session file.
    session_file = tmp_path / "from-page.strobe"
    session_file.write_text(json.dumps(data["session"]))
    assert Session.load(session_file).render("text") == p.last_session.render("text")

    out = tmp_path / "report.html"
    old = os.umask(0o022)
    try:
        p.write_html(out, hide=["*/json/*"], threshold=5)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    opts = payload_of(out.read_text())["options"]
    assert opts["explicit"] is True and opts["hide"] == ["*/json/*"] and opts["threshold"] == 5


def test_hostile_names_stay_inside_the_payload():
    names = [
        "</script><script>alert(1)</script>",
        "<!--",
        "line\u2028sep\u2029para",
        "<img src=x onerror=alert(1)>&amp;",
    ]
    ns = {}
    for i, name in enumerate(names):
        exec(f"def f{i}():\n    return sum(range(200000))\n", ns)
        ns[f"f{i}"].__code__ = ns[f"f{i}"].__code__.replace(co_name=name, co_qualname=name) \
            if sys.version_info >= (3, 11) else ns[f"f{i}"].__code__.replace(co_name=name)
    p = Profiler(interval=0.0002)
    with p:
        for _ in range(5):
            for i in range(len(names)):
                ns[f"f{i}"]()
    page = p.output_html()
    data = payload_of(page)
    assert set(names) <= frame_names(data)
    # Outside the payload, the page is the template: the same for every run.
    start = page.index(DATA_OPEN) + len(DATA_OPEN)
    end = page.index("</script>", start)
    with Profiler() as q:
        busy()
    other = q.output_html()
    o_start = other.index(DATA_OPEN) + len(DATA_OPEN)
    assert page[:start] == other[:o_start]
    assert page[end:] == other[other.index("</script>", o_start):]


def test_a_loaded_pyinstrument_session_renders_as_html(tmp_path):
    here = os.path.dirname(__file__)
    s = Session.load(os.path.join(here, "data", "pyinstrument-4.6.2.pyisession"))
    data = payload_of(s.render("html"))
    assert data["session"]["meta"]["sample_count"] == s.sample_count


def cli(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "stroboscope", *map(str, args)],
        capture_output=True, text=True, timeout=60, env=env, cwd=cwd,
    )  # fmt: skip


def test_cli_html_outfile_and_renderer(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        def crunch():
            return sum(i * i for i in range(400000))
        print(crunch())
    """))
    out = tmp_path / "r.html"
    r = cli("-o", out, script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(sum(i * i for i in range(400000)))
    assert "html report written to" in r.stderr
    data = payload_of(out.read_text())
    assert "crunch" in frame_names(data)
    assert data["session"]["meta"]["target"].endswith("prog.py")
    # -r wins over the extension; view options reach the page.
    out2 = tmp_path / "r.txt"
    r = cli("-r", "html", "-o", out2, "--hide", "*/json/*", "--time", "cpu", script)
    assert r.returncode == 0, r.stderr
    opts = payload_of(out2.read_text())["options"]
    assert opts["hide"] == ["*/json/*"] and opts["time"] == "cpu" and opts["explicit"]


def test_cli_html_opens_in_the_browser(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("print(sum(range(100000)))\n")
    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with %s replaced by the URL.
    opener = tmp_path / "opener.sh"
    opener.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    opener.chmod(0o755)
    env = dict(os.environ, BROWSER=f"{opener} %s")
    r = cli("-r", "html", script, env=env)
    assert r.returncode == 0, r.stderr
    m = re.search(r"html report written to (\S+)", r.stderr)
    assert m, r.stderr
    url = opened.read_text().split()[0]
    assert url == "file://" + m.group(1)
    payload_of(open(m.group(1)).read())
    os.unlink(m.group(1))
    # --open with -o opens the file written.
    opened.unlink()
    out = tmp_path / "x.html"
    r = cli("--open", "-o", out, script, env=env)
    assert r.returncode == 0, r.stderr
    assert opened.read_text().split()[0] == "file://" + str(out)


def test_load_renders_html(tmp_path):
    with Profiler() as p:
        busy()
    path = tmp_path / "run.strobe"
    p.last_session.save(path)
    out = tmp_path / "again.html"
    r = cli("--load", path, "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == p.last_session.render("html")
