"""The timeline of an all-threads session: one lane per thread when every
thread is in view ("All threads"), busiest first, each a label row and its
thread's stacks below; hover, search and zoom in every lane; one lane for a
chosen thread, for all threads merged and for a single-thread session."""

import re

import pytest
from pagetools import profile, render_html
from test_report_threads import SPIN

pytestmark = pytest.mark.full

# Three named threads, each spinning in its own function for a different
# time, while the main thread waits for them.
LANES_SCRIPT = '''
import threading, time
''' + SPIN + '''
def alpha_task():
    spin(0.6)

def beta_task():
    spin(0.45)

def gamma_task():
    spin(0.3)

threads = [threading.Thread(target=alpha_task, name="alpha"),
           threading.Thread(target=beta_task, name="beta"),
           threading.Thread(target=gamma_task, name="gamma")]
for t in threads:
    t.start()
for t in threads:
    t.join()
'''

WORKERS = {"alpha": "alpha_task", "beta": "beta_task", "gamma": "gamma_task"}
AXIS_H, BOX_H = 22, 18  # report.js


@pytest.fixture(scope="module")
def lanes_session(tmp_path_factory):
    d = tmp_path_factory.mktemp("lanes")
    (d / "lanes_demo.py").write_text(LANES_SCRIPT)
    return profile(d / "lanes_demo.py", d / "lanes.strobe", options=["--timeline"])


@pytest.fixture
def lanes_page(report, lanes_session, tmp_path):
    report.open(render_html(lanes_session, tmp_path / "lanes.html"))
    report.page.click("[data-tab=timeline]")
    return report


def lanes(report):
    return report.page.evaluate("stroboscope.lanes()")


def subtree(rows, i):
    """The view ids of i's subtree (rows are in pre-order)."""
    j = i + 1
    while j < len(rows) and rows[j]["depth"] > rows[i]["depth"]:
        j += 1
    return range(i, j)


def ancestry(rows, i):
    """i and its ancestors, up to the root."""
    out = [i]
    for j in range(i - 1, -1, -1):
        if rows[j]["depth"] < rows[out[-1]]["depth"]:
            out.append(j)
    return out


def lane_of(report, rows, thread):
    return next(lane for lane in lanes(report) if rows[lane["node"]]["label"].startswith(thread + " (tid "))


def row_y(report, row):
    """Scrolls the timeline so that this row (0: the first under the axis) is
    in view; its middle, in canvas pixels."""
    box = report.page.locator("#tl-box")
    top = box.evaluate(
        """(e, [y, axis, h]) => { if (y - e.scrollTop < axis || y - e.scrollTop + h > e.clientHeight) e.scrollTop = y - axis;
        return e.scrollTop; }""",
        [AXIS_H + row * BOX_H, AXIS_H, BOX_H])
    report.page.wait_for_timeout(50)
    return AXIS_H + row * BOX_H - top + BOX_H // 2


def painted_xs(report, y):
    """The canvas columns painted at height y."""
    return report.page.evaluate(
        """(y) => { const c = document.querySelector('#tl-box canvas'), r = window.devicePixelRatio || 1;
        const d = c.getContext('2d').getImageData(0, Math.floor(y * r), c.width, 1).data, out = [];
        for (let x = 0; x < c.width; x += r) if (d[4 * Math.floor(x) + 3]) out.push(x / r);
        return out; }""",
        y,
    )


def pixel(report, x, y):
    return report.page.evaluate(
        """([x, y]) => { const c = document.querySelector('#tl-box canvas'), r = window.devicePixelRatio || 1;
        return Array.from(c.getContext('2d').getImageData(Math.floor(x * r), Math.floor(y * r), 1, 1).data); }""",
        [x, y],
    )


def func_row(rows, lane, func):
    """The timeline row of the one view node named func in this lane."""
    [i] = [j for j in subtree(rows, lane["node"]) if rows[j]["name"] == func]
    return lane["row"] + rows[i]["depth"] - 1


def hover(report, x, y):
    report.page.locator("#tl-box canvas").hover(position={"x": x, "y": y})
    tip = report.page.locator("#tip")
    assert tip.is_visible()
    return [d.text_content() for d in tip.locator("div").all()]


def test_one_lane_per_thread(lanes_page):
    page, rows, got = lanes_page.page, lanes_page.rows(), lanes(lanes_page)
    threads = page.evaluate("stroboscope.threads()")
    # A lane per thread, in the selector's order (busiest first), each under
    # its thread's root, stacked without gaps.
    assert len(got) == 4
    assert [rows[lane["node"]]["label"] for lane in got] == [f"{t['name']} (tid {t['tid']})" for t in threads]
    assert all(rows[lane["node"]]["depth"] == 1 for lane in got)
    assert [lane["row"] for lane in got] == [sum(lane["rows"] for lane in got[:k]) for k in range(4)]
    for lane in got:
        sub = subtree(rows, lane["node"])
        # As tall as its thread's deepest stack (the label row is depth 1).
        assert lane["rows"] == max(rows[j]["depth"] for j in sub)
        # Its samples are its thread's only.
        assert lane["leaves"] and set(lane["leaves"]) <= set(sub)
        # Its label row is drawn, whatever the thread does then.
        y = row_y(lanes_page, lane["row"])
        assert len(painted_xs(lanes_page, y)) > 0.99 * page.locator("#tl-box canvas").bounding_box()["width"]
    # Each worker's lane runs its own function, and no other worker's.
    for thread, func in WORKERS.items():
        lane = lane_of(lanes_page, rows, thread)
        names = {rows[a]["name"] for leaf in lane["leaves"] for a in ancestry(rows, leaf)}
        assert func in names and not names & (set(WORKERS.values()) - {func})
    row_y(lanes_page, 0)
    lanes_page.shot("timeline-lanes")
    lanes_page.assert_clean()


def test_hover_names_the_lane_and_its_thread(lanes_page):
    rows = lanes_page.rows()
    for thread, func in WORKERS.items():
        lane = lane_of(lanes_page, rows, thread)
        y = row_y(lanes_page, func_row(rows, lane, func))
        xs = painted_xs(lanes_page, y)
        assert xs
        lines = hover(lanes_page, xs[len(xs) // 2], y)
        assert re.fullmatch(r"at .+ in " + re.escape(rows[lane["node"]]["label"]), lines[0]), lines
        text = "\n".join(lines)
        assert func in text and not any(f in text for f in WORKERS.values() if f != func), lines
        # The label row: the same thread.
        lines = hover(lanes_page, xs[len(xs) // 2], row_y(lanes_page, lane["row"]))
        assert lines[0].endswith(" in " + rows[lane["node"]]["label"])
    lanes_page.assert_clean()


def test_search_highlights_every_lane(lanes_page):
    page, rows = lanes_page.page, lanes_page.rows()
    page.fill("#search", "beta_TASK")
    page.wait_for_selector("#hits:text-is('1 match')")
    for thread, func in WORKERS.items():
        lane = lane_of(lanes_page, rows, thread)
        y = row_y(lanes_page, func_row(rows, lane, func))
        xs = painted_xs(lanes_page, y)
        rgb = pixel(lanes_page, xs[len(xs) // 2], y)[:3]
        # The match in yellow, the others grey.
        assert rgb == ([0xff, 0xd5, 0x4a] if func == "beta_task" else [0xe9, 0xeb, 0xef]), (thread, rgb)
    row_y(lanes_page, 0)
    lanes_page.shot("timeline-lanes-search")
    lanes_page.assert_clean()


def test_zoom_and_reset_in_lanes(lanes_page):
    page, rows = lanes_page.page, lanes_page.rows()
    canvas = page.locator("#tl-box canvas")
    width = canvas.bounding_box()["width"]
    lane = lane_of(lanes_page, rows, "gamma")
    y = row_y(lanes_page, func_row(rows, lane, "gamma_task"))
    xs = painted_xs(lanes_page, y)
    # gamma spins for half of the run.
    assert 0.2 * width < len(xs) < 0.8 * width
    # Drag across the middle of gamma's work: its function fills the lane.
    a, b = xs[len(xs) // 4], xs[len(xs) // 2]
    canvas.hover(position={"x": a, "y": y})
    page.mouse.down()
    canvas.hover(position={"x": b, "y": y})
    page.mouse.up()
    assert len(lanes(lanes_page)) == 4
    assert len(painted_xs(lanes_page, y)) > 0.95 * width
    lines = hover(lanes_page, width / 2, y)
    assert lines[0].endswith(" in " + rows[lane["node"]]["label"]) and "gamma_task" in "\n".join(lines)
    lanes_page.shot("timeline-lanes-zoomed")
    page.click("#tl-reset")
    assert len(painted_xs(lanes_page, y)) == len(xs)
    lanes_page.assert_clean()


def one_lane(report):
    """The single lane, checked: every view node's depth on its own row."""
    rows, got = report.rows(), lanes(report)
    assert len(got) == 1
    [lane] = got
    assert (lane["node"], lane["row"], lane["rows"]) == (0, 0, max(r["depth"] for r in rows))
    return rows, lane


@pytest.mark.parametrize("choice", ["beta", "merged"])
def test_one_lane_for_one_thread_or_merged(lanes_page, choice):
    page = lanes_page.page
    if choice == "merged":
        page.select_option("#thread", "merged")
    else:
        value = next(o.get_attribute("value") for o in page.locator("#thread option").all()
                     if o.text_content().startswith(choice + " (tid "))
        page.select_option("#thread", value)
    rows, lane = one_lane(lanes_page)
    names = {rows[a]["name"] for leaf in lane["leaves"] for a in ancestry(rows, leaf)}
    if choice == "merged":
        assert set(WORKERS.values()) <= names
    else:
        assert "beta_task" in names and not names & {"alpha_task", "gamma_task"}
    # Depth d on row d - 1, no label rows, the tooltip without a thread.
    # Merged, each moment shows one of the threads sampled then.
    [i] = [j for j, r in enumerate(rows) if r["name"] == "beta_task"]
    y = row_y(lanes_page, rows[i]["depth"] - 1)
    xs = painted_xs(lanes_page, y)
    lines = hover(lanes_page, xs[len(xs) // 2], y)
    assert re.fullmatch(r"at [^ ]+ [^ ]+", lines[0]), lines
    text = "\n".join(lines)
    assert any(f in text for f in WORKERS.values()) if choice == "merged" else "beta_task" in text, lines
    lanes_page.shot(f"timeline-one-lane-{choice}")
    lanes_page.assert_clean()


def test_one_lane_for_one_thread_session(report, busy_session, tmp_path):
    report.open(render_html(busy_session, tmp_path / "busy.html"))
    report.page.click("[data-tab=timeline]")
    one_lane(report)
    report.assert_clean()
