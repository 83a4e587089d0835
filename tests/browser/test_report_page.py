"""The HTML report page in a real browser: loading, the call tree's controls,
the flame graph, the timeline, settings, hostile names, deep trees, and
parity of the page's view with the JSON report (the C view)."""

import json
import pathlib
import subprocess
import sys

import pytest
from pagetools import EXAMPLES, assert_parity, painted, profile, render_html, render_json

from stroboscope import _core
from stroboscope.session import Session

# The page is the same on every Python: the full runs (3.11, 3.12) drive it.
pytestmark = pytest.mark.full

DOM_DEPTH = """() => {
  let max = 0;
  const todo = [[document.documentElement, 1]];
  while (todo.length) {
    const [e, d] = todo.pop();
    if (d > max) max = d;
    for (const c of e.children) todo.push([c, d + 1]);
  }
  return max;
}"""


def row(report, text):
    """The call-tree row (in the DOM now) whose text holds `text`."""
    return report.page.locator("#rows .row", has_text=text).first


def wait_settled(report):
    """Text inputs apply after a short pause; wait until nothing is pending."""
    report.page.wait_for_timeout(400)


@pytest.fixture
def busy(report, busy_session, tmp_path):
    return report.open(render_html(busy_session, tmp_path / "busy.html"))


# -- loading ---------------------------------------------------------------


def test_loads_without_errors_or_network(busy):
    page = busy.page
    assert page.locator("#rows .row").count() > 3
    assert "busy.py" in page.locator("#target").text_content()
    meta = page.locator("#meta").text_content()
    for word in ("Duration", "Samples", "Rate", "Interval", "CPU", "Python", "Re-arm"):
        assert word in meta
    assert page.locator("#thread-box").is_hidden()  # one thread: no selector
    busy.shot("tree")
    busy.assert_clean()


def test_template_is_small():
    """The page as the extension embeds it (embed.py: comments and
    indentation dropped), without a payload."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "report_templates"))
    try:
        import embed
    finally:
        sys.path.pop(0)
    head, tail = embed.page_parts()
    size = len(head.encode()) + len(tail.encode())
    assert size < 45_000, size  # the budget: trim before adding


def test_ten_times_smaller_than_pyinstrument(tmp_path):
    """The same ten-second run, as stroboscope's page and as pyinstrument's."""
    try:
        import pyinstrument  # noqa: F401  (the test extra of pyproject.toml)
    except ImportError:
        pytest.fail("this test needs pyinstrument (pip install pyinstrument)", pytrace=False)
    ours = tmp_path / "ours.html"
    profile(EXAMPLES / "busy.py", tmp_path / "run.strobe", "--rounds", "100")
    render_html(tmp_path / "run.strobe", ours)
    theirs = tmp_path / "theirs.html"
    subprocess.run([sys.executable, "-m", "pyinstrument", "-r", "html", "-o", str(theirs),
                    str(EXAMPLES / "busy.py"), "--rounds", "100"], check=True, capture_output=True, timeout=300)
    ratio = theirs.stat().st_size / ours.stat().st_size
    print(f"pyinstrument {theirs.stat().st_size} bytes, stroboscope {ours.stat().st_size}: {ratio:.1f}x")
    assert ratio >= 10, ratio


# -- the call tree -----------------------------------------------------------


def test_click_expands_and_collapses(busy):
    page = busy.page
    r = row(busy, "one_round")
    assert r.get_attribute("aria-expanded") == "true"
    before = page.evaluate("stroboscope.visibleRows()")
    r.click()
    assert row(busy, "one_round").get_attribute("aria-expanded") == "false"
    assert page.evaluate("stroboscope.visibleRows()") < before
    assert page.locator("#rows .row", has_text="count_words").count() == 0
    row(busy, "one_round").click()
    assert page.evaluate("stroboscope.visibleRows()") == before
    busy.assert_clean()


def test_alt_click_expands_recursively(busy):
    page = busy.page
    top = row(busy, "<module>")
    top.click()  # collapse
    assert page.evaluate("stroboscope.visibleRows()") == 1
    top.click(modifiers=["Alt"])
    everything = len(busy.rows()) - 1  # every node but the root
    assert page.evaluate("stroboscope.visibleRows()") == everything
    assert row(busy, "<module>").get_attribute("aria-expanded") == "true"
    row(busy, "<module>").click(modifiers=["Alt"])
    assert page.evaluate("stroboscope.visibleRows()") == 1
    busy.assert_clean()


def test_keyboard_navigation(busy):
    page = busy.page
    page.locator("#rows").focus()
    page.keyboard.press("ArrowDown")  # selects the first row
    sel = page.locator("#rows .row.sel")
    assert "<module>" in sel.text_content()
    page.keyboard.press("ArrowLeft")  # collapses it
    assert page.locator("#rows .row.sel").get_attribute("aria-expanded") == "false"
    assert page.evaluate("stroboscope.visibleRows()") == 1
    page.keyboard.press("ArrowRight")  # expands it
    assert page.locator("#rows .row.sel").get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowRight")  # moves to the first child
    assert "main" in page.locator("#rows .row.sel").text_content()
    page.keyboard.press("ArrowLeft")  # main is open: closes it
    assert page.locator("#rows .row.sel").get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")  # opens it again
    assert page.locator("#rows .row.sel").get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    assert "one_round" in page.locator("#rows .row.sel").text_content()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # closed already: goes to the parent
    assert "main" in page.locator("#rows .row.sel").text_content()
    page.keyboard.press(" ")
    assert page.locator("#rows .row.sel").get_attribute("aria-expanded") == "false"
    assert page.locator("#rows").get_attribute("aria-activedescendant")
    busy.assert_clean()


def test_search_highlights_and_reveals(busy):
    page = busy.page
    row(busy, "<module>").click()  # everything collapsed
    assert page.locator("#rows .row", has_text="count_words").count() == 0
    page.fill("#search", "COUNT_words")
    page.wait_for_selector("#rows .row.hit")
    hit = page.locator("#rows .row.hit")
    assert hit.count() == 1 and "count_words" in hit.text_content()
    assert page.locator("#hits").text_content() == "1 match"
    page.fill("#search", "")
    wait_settled(busy)
    assert page.locator("#rows .row.hit").count() == 0
    busy.shot("tree-search")
    busy.assert_clean()


def test_wall_cpu_toggle(busy, busy_session):
    page = busy.page
    page.click("[data-time=cpu]")
    assert busy.settings()["time"] == "cpu"
    rows = busy.rows()
    assert all(r["total_ns"] == r["total_cpu_ns"] for r in rows)
    assert_parity(rows, render_json(busy_session, "--time", "cpu"))
    # Sleeping is wall time without CPU: it shows in the waiting column.
    page.click("[data-time=wall]")
    wait = row(busy, "wait_for_io").locator(".wait")
    assert "hot" in wait.get_attribute("class")
    busy.assert_clean()


# -- flame graph and timeline ------------------------------------------------


def tip(report):
    t = report.page.locator("#tip")
    return t.text_content() if t.is_visible() else None


def test_flame_graph_renders_and_zooms(busy):
    page = busy.page
    page.click("[data-tab=flame]")
    canvas = page.locator("#flame-box canvas")
    assert painted(busy, "#flame-box canvas") > 10_000
    busy.shot("flame")
    # Depth 4 (root is 0) holds one_round's children; the leftmost is the largest.
    canvas.hover(position={"x": 3, "y": 4 * 18 + 9})
    name = tip(busy).split("/")[0]
    assert name
    canvas.click(position={"x": 3, "y": 4 * 18 + 9})
    crumbs = page.locator("#crumbs .crumb")
    assert crumbs.count() == 5
    assert crumbs.last.text_content() in name
    # Zoomed: the box spans the whole width now.
    width = canvas.bounding_box()["width"]
    canvas.hover(position={"x": width - 3, "y": 4 * 18 + 9})
    assert tip(busy).split("/")[0] == name
    busy.shot("flame-zoomed")
    crumbs.first.click()
    assert page.locator("#crumbs .crumb").count() == 1
    canvas.click(position={"x": 3, "y": 3 * 18 + 9})
    assert page.locator("#crumbs .crumb").count() == 4
    canvas.click(position={"x": 3, "y": 9})  # the root zooms out
    assert page.locator("#crumbs .crumb").count() == 1
    busy.assert_clean()


def test_timeline_renders_and_hovers(busy):
    page = busy.page
    page.click("[data-tab=timeline]")
    canvas = page.locator("#tl-box canvas")
    assert painted(busy, "#tl-box canvas") > 10_000
    box = canvas.bounding_box()
    canvas.hover(position={"x": box["width"] / 2, "y": 22 + 9})
    text = tip(busy)
    assert text and text.startswith("at ") and "samples" in text
    busy.shot("timeline")
    canvas.hover(position={"x": 100, "y": 40})
    page.mouse.down()
    canvas.hover(position={"x": 300, "y": 40})
    page.mouse.up()
    canvas.hover(position={"x": 5, "y": 10})
    assert "at " in (tip(busy) or "")
    busy.shot("timeline-zoomed")
    busy.assert_clean()


def test_timeline_tab_disabled_without_timeline(report, tmp_path):
    data = _core.new_session()
    data.add_stack([("main", "/app/a.py", 1, 0, 2)], 1_000_000, 1_000_000)
    path = tmp_path / "nt.html"
    path.write_text(Session(data).render("html"), encoding="utf-8")
    report.open(path)
    assert report.page.locator("[data-tab=timeline]").is_disabled()
    report.assert_clean()


# -- settings ----------------------------------------------------------------


def test_settings_persist_across_reload(busy):
    page = busy.page
    page.click("[data-time=cpu]")
    page.fill("#threshold", "2.5")
    page.click("#filters-btn")
    page.fill("#f-hide", "*/nothing/*\n*/neither/*")
    page.fill("#f-show-regex", "json")
    page.check("#showall")
    wait_settled(busy)
    page.click("[data-tab=flame]")
    want = {"time": "cpu", "threshold": 2.5, "show_all": True, "hide": ["*/nothing/*", "*/neither/*"],
            "show": [], "hide_regex": [], "show_regex": ["json"], "thread": None, "merge_threads": False,
            "tab": "flame"}
    assert busy.settings() == want
    page.reload()
    page.wait_for_function("window.stroboscope !== undefined")
    assert busy.settings() == want
    assert page.locator("#threshold").input_value() == "2.5"
    assert page.locator("#showall").is_checked()
    assert page.locator("#f-hide").input_value() == "*/nothing/*\n*/neither/*"
    assert page.locator("[data-time=cpu]").get_attribute("aria-pressed") == "true"
    assert page.locator("#pane-flame").is_visible()
    busy.assert_clean()


def test_explicit_options_win_over_stored_settings(report, busy_session, tmp_path):
    plain = render_html(busy_session, tmp_path / "plain.html")
    explicit = render_html(busy_session, tmp_path / "explicit.html", "--time", "cpu", "--threshold", "3")
    report.open(plain)
    report.page.fill("#threshold", "7")
    wait_settled(report)
    assert report.settings()["threshold"] == 7
    report.open(explicit)  # same origin (file://), same storage
    s = report.settings()
    assert (s["time"], s["threshold"]) == ("cpu", 3)
    report.open(plain)  # no options given: the stored ones win again
    assert report.settings()["threshold"] == 7
    assert report.errors == []


def test_without_local_storage(report, busy_session, tmp_path):
    """Some browsers throw on localStorage for file:// pages."""
    report.page.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() { throw new Error('denied'); }})")
    report.open(render_html(busy_session, tmp_path / "nols.html"))
    report.page.click("[data-time=cpu]")
    assert report.settings()["time"] == "cpu"
    assert report.errors == []


# -- hostile names -------------------------------------------------------------

HOSTILE = [
    "</script><script>window.__pwned=1</script>",
    "<img src=x onerror=window.__pwned=1>",
    "before\u2028after\u2029end",
    "&lt;not an entity&gt; & <b>bold</b>",
]


def test_hostile_names_show_as_text(report, tmp_path):
    data = _core.new_session()
    for k, name in enumerate(HOSTILE):
        data.add_stack([("<module>", "/app/</script>.py", 1, 0, 3), (name, "/app/<img src=y onerror=window.__pwned=2>.py", 10, 0, 11)],
                       (k + 1) * 1_000_000, 500_000)
    data.set_meta(duration=0.01, cpu_time=0.002, sample_count=4, interval=0.001,
                  target="<script>window.__pwned=3</script>", python_version="<b>3</b>", mechanism="<i>m</i>")
    data.add_error("<img src=z onerror=window.__pwned=4> went wrong")
    html = Session(data).render("html")
    payload = html[html.index('id="strobe-data"'):]
    payload = payload[:payload.index("</script>")]
    assert "<" not in payload.split(">", 1)[1] and "\u2028" not in payload
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    report.open(path)
    page = report.page
    page.click("[data-tab=flame]")
    page.click("[data-tab=tree]")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img, b, i").count() == 0
    names = [r.locator(".fn").text_content() for r in page.locator("#rows .row").all()]
    for name in HOSTILE:
        assert name in names
    assert page.locator("#target").text_content() == "<script>window.__pwned=3</script>"
    assert page.locator("#errors").text_content() == "<img src=z onerror=window.__pwned=4> went wrong"
    assert page.locator("#errors").is_visible()
    page.fill("#search", "pwned")
    page.wait_for_selector("#rows .row.hit")
    report.shot("hostile")
    assert page.evaluate("window.__pwned") is None
    report.assert_clean()


# -- deep trees ----------------------------------------------------------------


def test_deep_recursion(report, tmp_path):
    session = profile(EXAMPLES / "deep_recursion.py", tmp_path / "deep.strobe", "--depth", "10000", "--repeat", "3")
    report.open(render_html(session, tmp_path / "deep.html"))
    rows = report.rows()
    assert max(r["recursion"] for r in rows) > 9000
    assert_parity(rows, render_json(session))
    page = report.page
    row(report, "<module>").click(modifiers=["Alt"])  # all open already: closes
    row(report, "<module>").click(modifiers=["Alt"])
    assert page.evaluate("stroboscope.visibleRows()") == len(rows) - 1
    assert page.locator("#rows .row .tag", has_text="recursion \u00d7").count() >= 1
    assert page.evaluate(DOM_DEPTH) < 20
    report.shot("deep-recursion")
    page.click("[data-tab=flame]")
    report.assert_clean()


def chain_session(depth, samples_at):
    """A 10,000-deep chain of distinct functions, samples at several depths."""
    data = _core.new_session()
    chain = [(f"level_{k}", "/app/chain.py", k + 1, 0, k + 2) for k in range(depth)]
    for d in samples_at:
        data.add_stack(chain[:d], 1_000_000 * d // 100, 400_000 * d // 100)
    data.set_meta(duration=1.0, cpu_time=0.5, sample_count=len(samples_at), interval=0.001)
    return Session(data)


def test_deep_chain(report, tmp_path):
    session = chain_session(10_000, [10_000, 9_000, 5_000, 2_000])
    path = tmp_path / "chain.html"
    path.write_text(session.render("html"), encoding="utf-8")
    (tmp_path / "chain.strobe").write_bytes(session._data.to_bytes())
    report.open(path)
    page = report.page
    rows = report.rows()
    assert len(rows) == 10_001 and rows[-1]["depth"] == 10_000
    assert_parity(rows, render_json(tmp_path / "chain.strobe"))
    # Every level holds over 20% of the time: all open at first.
    assert page.evaluate("stroboscope.visibleRows()") == 10_000
    row(report, "level_0").click(modifiers=["Alt"])
    assert page.evaluate("stroboscope.visibleRows()") == 1
    row(report, "level_0").click(modifiers=["Alt"])
    assert page.evaluate("stroboscope.visibleRows()") == 10_000
    page.locator("#rows").evaluate("e => e.scrollTop = e.scrollHeight")
    page.wait_for_timeout(100)
    assert page.locator("#rows .row", has_text="level_9999").count() == 1
    assert page.locator("#rows .row").count() < 200
    assert page.locator("#rows .row", has_text="depth 10000").count() == 1
    assert page.evaluate(DOM_DEPTH) < 20
    report.shot("deep-chain")
    page.click("[data-tab=flame]")
    page.locator("#flame-box").evaluate("e => e.scrollTop = e.scrollHeight")
    page.wait_for_timeout(100)
    assert painted(report, "#flame-box canvas") > 1000
    report.shot("deep-chain-flame")
    report.assert_clean()


def test_large_session_opens(report, tmp_path):
    """About 100,000 nodes open, rows virtualised. How fast is measured by
    tests/benchmarks/html_open.py, not here."""
    data = _core.new_session()
    files = [f"/app/mod{m}.py" for m in range(50)]
    for s in range(20_000):
        stack, x = [], s
        for level in range(12):
            k = (x + level * 7) % (3 if level < 6 else 40)
            stack.append((f"fn_{level}_{k}", files[(k + level) % 50], 1 + k, 0, 10 + level))
            x //= 2 if level < 6 else 3
        data.add_stack(stack, 1_000_000 + s % 7 * 1000, 600_000)
    data.set_meta(duration=60.0, cpu_time=40.0, sample_count=60_000, interval=0.001)
    path = tmp_path / "large.html"
    path.write_text(Session(data).render("html", threshold=0.1), encoding="utf-8")
    nodes = len(json.loads(data.to_bytes())["nodes"])
    assert nodes > 50_000
    report.open(path)
    report.page.wait_for_selector("#rows .row")
    assert report.page.locator("#rows .row").count() < 200
    report.page.click("[data-tab=flame]")
    report.shot("large-flame")
    report.assert_clean()


# -- parity with the JSON report (the C view) ----------------------------------


PARITY_SCRIPT = '''
import json, os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers"))
import util

def hook(d):
    s = 0
    for i in range(300):
        s += i * i
    return d

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def work():
    data = json.dumps([{"k": i, "v": str(i) * 5} for i in range(3000)])
    for _ in range(12):
        json.loads(data, object_hook=hook)
        re.findall(r"[0-9]+", data)
        util.crunch(hook)
        fib(17)

work()
'''

UTIL = '''
def crunch(callback):
    out = sorted(str(i) for i in range(20000))
    for i in range(200):
        callback({"i": i})
    return out
'''

OPTION_SETS = [
    [],
    ["--hide", "*/helpers/*", "--threshold", "0.5"],
    ["--hide", "*/helpers/[a-u]til.py", "--show-regex", "json/(de|en)coder", "--time", "cpu", "--threshold", "2"],
    ["--show-all", "--threshold", "0"],
    ["--hide-regex", "parity", "--show", "*/re/*", "--threshold", "0.2"],
    ["--hide", "*", "--threshold", "0"],
]


@pytest.fixture(scope="module")
def parity_session(tmp_path_factory):
    d = tmp_path_factory.mktemp("parity")
    (d / "helpers").mkdir()
    (d / "helpers" / "util.py").write_text(UTIL)
    (d / "parity.py").write_text(PARITY_SCRIPT)
    return profile(d / "parity.py", d / "parity.strobe")


def test_parity_session_has_groups(parity_session):
    doc = render_json(parity_session)
    assert any(n.get("hidden_count") for n in doc["nodes"])
    assert any(f["library"] for f in doc["frames"])


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: " ".join(o) or "defaults")
def test_parity_through_payload(report, parity_session, tmp_path, options):
    report.open(render_html(parity_session, tmp_path / "p.html", *options))
    assert_parity(report.rows(), render_json(parity_session, *options))
    report.assert_clean()


def settings_of(options):
    s = {"time": "wall", "threshold": 1.0, "show_all": False, "hide": [], "show": [], "hide_regex": [], "show_regex": [],
         "thread": None, "merge_threads": False}
    it = iter(options)
    for opt in it:
        key = opt[2:].replace("-", "_")
        if key == "show_all":
            s[key] = True
        elif key in ("time",):
            s[key] = next(it)
        elif key == "threshold":
            s[key] = float(next(it))
        else:
            s[key].append(next(it))
    return s


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: " ".join(o) or "defaults")
def test_parity_through_controls(report, parity_session, tmp_path, options):
    report.open(render_html(parity_session, tmp_path / "p.html"))
    page, want = report.page, settings_of(options)
    page.click("#filters-btn")
    for key in ("hide", "show", "hide_regex", "show_regex"):
        page.fill("#f-" + key.replace("_", "-"), "\n".join(want[key]))
    page.fill("#threshold", str(want["threshold"]))
    page.set_checked("#showall", want["show_all"])
    page.click(f"[data-time={want['time']}]")
    wait_settled(report)
    got = report.settings()
    del got["tab"]
    assert got == want
    assert_parity(report.rows(), render_json(parity_session, *options))
    if options == OPTION_SETS[2]:
        report.shot("parity-controls")
    report.assert_clean()


FNMATCH_CASES = [
    ("abc", "a*c"), ("abc", "a?c"), ("a/b/c.py", "*/c.py"), ("a.py", "[ab].py"), ("c.py", "[!ab].py"),
    ("b.py", "[a-c].py"), ("-", "[a-]"), ("]", "[]]"), ("a]", "[!]]]"), ("[x", "[x"), ("z", "[z-a]"),
    ("a", "[!]"), ("!", "[!]"), ("\\", "[\\]"), ("a\nb", "a?b"), ("ab", "a*b*"), ("a.b", "a.b"),
    ("axb", "a.b"), ("(x)", "(x)"), ("x+", "x+"), ("^$", "^$"), ("b", "[^a]"), ("^", "[^a]"),
    ("é", "?"), ("\U0001f600", "?"), ("a-b", "[a-b-c]"), ("-", "[a-b-c]"), ("c", "[a-b-c]"),
    ("d", "[a-b-c]"), ("&", "[&~|]"), ("|", "[a|]"), ("a", "[a-c-z]"), ("-", "[!a-c]"),
    ("/usr/lib/python3.11/json/decoder.py", "*/json/*"), ("abc", "*"), ("", "*"), ("", "?"),
]


def test_fnmatch_port(report, parity_session, tmp_path):
    import fnmatch

    report.open(render_html(parity_session, tmp_path / "f.html"))
    got = report.page.evaluate(
        "cases => cases.map(([n, p]) => { try { return stroboscope.fnmatch(n, p); } catch (e) { return 'error'; } })",
        FNMATCH_CASES,
    )
    assert got == [fnmatch.fnmatchcase(n, p) for n, p in FNMATCH_CASES]
