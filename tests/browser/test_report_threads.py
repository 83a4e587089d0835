"""The HTML report of an all-threads session: the thread selector (every
thread, one thread, all merged), its parity with ``--thread`` (the C view's
FOCUS), the payload's ``options.thread``, persistence, the CPU toggle, and
the flame graph and timeline following the selection."""

import re

import pytest
from pagetools import assert_parity, painted, profile, render_html, render_json

pytestmark = pytest.mark.full

# Busy for `seconds` of wall time (the other scripts' threads use it too).
SPIN = '''
def spin(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += sum(i * i for i in range(200))
    return n
'''

# Three named threads doing different work while the main thread holds a
# lock, spins a little and sleeps: one busy, one asleep for 0.3 s, one
# waiting on the lock (its name also tries to be HTML). A blocked thread is
# sampled when it wakes, its sample charged with the time since its last.
THREADS_SCRIPT = '''
import threading, time

lock = threading.Lock()
''' + SPIN + '''
def crunch():
    spin(0.6)

def doze():
    spin(0.02)  # sampled once awake, so its timeline starts here
    time.sleep(0.3)

def wait_for_lock():
    with lock:
        pass

def main():
    lock.acquire()
    threads = [threading.Thread(target=crunch, name="busy-worker"),
               threading.Thread(target=doze, name="sleeper"),
               threading.Thread(target=wait_for_lock, name=WAITER)]
    for t in threads:
        t.start()
    spin(0.1)
    time.sleep(0.25)
    lock.release()
    for t in threads:
        t.join()

main()
'''

WAITER = "lock-waiter <b>&amp;</b>"
NAMES = ["busy-worker", "sleeper", WAITER]
THREAD_LABEL = re.compile(r"(.*) \(tid (\d+)\)\Z", re.S)


@pytest.fixture(scope="module")
def threads_session(tmp_path_factory):
    d = tmp_path_factory.mktemp("threads")
    (d / "threads_demo.py").write_text(THREADS_SCRIPT.replace("WAITER", repr(WAITER)))
    return profile(d / "threads_demo.py", d / "threads.strobe", options=["--timeline"])


@pytest.fixture
def threads_page(report, threads_session, tmp_path):
    return report.open(render_html(threads_session, tmp_path / "threads.html"))


def options(report):
    return [(o.get_attribute("value"), o.text_content()) for o in report.page.locator("#thread option").all()]


def pick(report, name):
    """Chooses a thread in the selector, by its name, as a reader would."""
    value = next(v for v, text in options(report) if text.startswith(name + " (tid "))
    report.page.select_option("#thread", value)
    return value


def thread_roots(rows):
    return [r for r in rows if r["depth"] == 1 and r["frame"] >= 0 and THREAD_LABEL.match(r["label"])]


def test_selector_lists_threads_busiest_first(threads_page, threads_session):
    page = threads_page.page
    assert page.locator("#thread-box").is_visible()
    opts = options(threads_page)
    assert [v for v, _ in opts[:2]] == ["all", "merged"]
    assert page.locator("#thread").input_value() == "all"
    threads = threads_page.page.evaluate("stroboscope.threads()")
    assert sorted(t["name"] for t in threads) == sorted(NAMES + ["MainThread"])
    walls = [t["wall_ns"] for t in threads]
    assert walls == sorted(walls, reverse=True)
    for (_, label), t in zip(opts[2:], threads):
        assert label.startswith(f"{t['name']} (tid {t['tid']}) \u2013 ")
    # The sleeper and the waiter spent their time waiting, and say so.
    assert re.search(r"sleeper \(tid \d+\) \u2013 [0-9.]+ ms, ([89]\d|100)% waiting", dict(opts).get(pick(threads_page, "sleeper")))
    # Names are text: the waiter's name stays as written.
    assert any(label.startswith(WAITER + " (tid ") for _, label in opts)
    assert page.locator("#thread b").count() == 0
    # Every thread, each under its own root: exactly the C view.
    page.select_option("#thread", "all")
    rows = threads_page.rows()
    assert_parity(rows, render_json(threads_session))
    assert len(thread_roots(rows)) == 4
    threads_page.assert_clean()


@pytest.mark.parametrize("name", NAMES + ["MainThread"])
def test_one_thread_is_the_thread_option(threads_page, threads_session, name):
    pick(threads_page, name)
    assert threads_page.settings()["thread"] == name
    rows = threads_page.rows()
    assert [r["label"].rsplit(" (tid ", 1)[0] for r in thread_roots(rows)] == [name]
    assert_parity(rows, render_json(threads_session, "--thread", name))
    if name == "busy-worker":
        threads_page.shot("thread-tree")
    threads_page.assert_clean()


def test_merged_threads(threads_page, threads_session):
    page = threads_page.page
    page.select_option("#thread", "merged")
    assert threads_page.settings()["merge_threads"] is True
    rows = threads_page.rows()
    assert thread_roots(rows) == [] and not any(THREAD_LABEL.match(r["label"]) for r in rows)
    threads = page.evaluate("stroboscope.threads()")
    for key in ("wall", "cpu"):
        assert rows[0][f"total_{key}_ns"] == pytest.approx(sum(t[f"{key}_ns"] for t in threads), rel=1e-12)
    # Each thread's own total, as the JSON report of that thread has it.
    for t in threads:
        doc = render_json(threads_session, "--thread", t["tid"])
        assert doc["nodes"][0]["total_wall"] == pytest.approx(t["wall_ns"] / 1e9, rel=1e-9)
    # The three workers start in threading's bootstrap: merged, one group
    # holds all three.
    top = [r for r in rows if r["depth"] == 1]
    boot = [r for r in top if r["hidden_count"] and "threading" in r["label"]]
    assert len(boot) == 1
    funcs = {r["name"] for r in rows}
    assert {"crunch", "doze", "wait_for_lock", "main"} <= funcs
    # The merged tree is a tree: no two siblings with the same frame and kind.
    seen, parents = set(), []
    for r in rows:
        del parents[r["depth"]:]
        key = (tuple(parents), r["frame"], r["hidden_count"] > 0)
        assert key not in seen, r
        seen.add(key)
        parents.append((r["frame"], r["hidden_count"] > 0))
    page.click("[data-tab=flame]")
    assert painted(threads_page, "#flame-box canvas") > 10_000
    threads_page.shot("threads-merged-flame")
    threads_page.assert_clean()


def test_payload_thread_preselects(report, threads_session, tmp_path):
    report.open(render_html(threads_session, tmp_path / "sleeper.html", "--thread", "sleeper"))
    assert report.settings()["thread"] == "sleeper"
    label = report.page.locator("#thread option:checked").text_content()
    assert label.startswith("sleeper (tid ")
    assert_parity(report.rows(), render_json(threads_session, "--thread", "sleeper"))
    # By tid, as Python matches it.
    tid = next(t["tid"] for t in report.page.evaluate("stroboscope.threads()") if t["name"] == "busy-worker")
    report.open(render_html(threads_session, tmp_path / "tid.html", "--thread", tid, "--time", "cpu"))
    assert report.settings()["thread"] == tid
    assert report.page.locator("#thread option:checked").text_content().startswith("busy-worker (tid ")
    assert_parity(report.rows(), render_json(threads_session, "--thread", tid, "--time", "cpu"))
    assert report.errors == []


def test_thread_persists_and_falls_back(threads_page, busy_session, tmp_path):
    page = threads_page.page
    pick(threads_page, "busy-worker")
    page.reload()
    page.wait_for_function("window.stroboscope !== undefined")
    assert threads_page.settings()["thread"] == "busy-worker"
    assert page.locator("#thread option:checked").text_content().startswith("busy-worker (tid ")
    page.select_option("#thread", "merged")
    page.reload()
    page.wait_for_function("window.stroboscope !== undefined")
    assert (threads_page.settings()["merge_threads"], page.locator("#thread").input_value()) == (True, "merged")
    # A stored thread this session does not have: every thread.
    page.evaluate("""() => { const s = JSON.parse(localStorage.getItem('stroboscope.settings'));
        s.thread = 'no-such-thread'; s.merge_threads = false; localStorage.setItem('stroboscope.settings', JSON.stringify(s)); }""")
    page.reload()
    page.wait_for_function("window.stroboscope !== undefined")
    assert threads_page.settings()["thread"] is None
    assert page.locator("#thread").input_value() == "all"
    assert len(thread_roots(threads_page.rows())) == 4
    # A single-thread session has no threads to choose from.
    pick(threads_page, "sleeper")
    threads_page.open(render_html(busy_session, tmp_path / "busy.html"))
    assert threads_page.settings()["thread"] is None
    assert page.locator("#thread-box").is_hidden()
    assert threads_page.errors == []


def test_cpu_toggle_with_thread(threads_page, threads_session):
    page = threads_page.page
    pick(threads_page, "sleeper")
    # Asleep: nearly all of its wall time is waiting.
    wait = page.locator("#rows .row", has_text="doze").first.locator(".wait")
    assert "hot" in wait.get_attribute("class")
    assert float(wait.text_content().rstrip("%")) > 80
    page.click("[data-time=cpu]")
    assert threads_page.settings()["thread"] == "sleeper"
    assert page.locator("#thread option:checked").text_content().startswith("sleeper (tid ")
    assert_parity(threads_page.rows(), render_json(threads_session, "--thread", "sleeper", "--time", "cpu"))
    # By CPU time the busy worker comes first.
    assert options(threads_page)[2][1].startswith("busy-worker (tid ")
    page.select_option("#thread", "all")
    assert_parity(threads_page.rows(), render_json(threads_session, "--time", "cpu"))
    threads_page.assert_clean()


def timeline_pixel(report, x_share, row):
    """The alpha of the timeline canvas at x_share of its width, in this row
    (0: the first under the axis; with one lane, depth 1)."""
    return report.page.evaluate(
        """([xs, row]) => { const c = document.querySelector('#tl-box canvas'), r = window.devicePixelRatio || 1;
        return c.getContext('2d').getImageData(Math.floor(c.width * xs), Math.floor((22 + row * 18 + 9) * r), 1, 1).data[3]; }""",
        [x_share, row],
    )


def test_timeline_follows_thread(threads_page):
    page = threads_page.page
    page.click("[data-tab=timeline]")
    # Every thread, a lane each (its first row its label, depth 2 below it):
    # the busy worker runs to the end of the run, the sleeper is done after
    # 0.3 s (test_report_lanes.py has the lanes in detail).
    rows = threads_page.rows()
    first = {rows[lane["node"]]["label"].rsplit(" (tid ", 1)[0]: lane["row"] for lane in page.evaluate("stroboscope.lanes()")}
    assert sorted(first) == sorted(NAMES + ["MainThread"])
    assert timeline_pixel(threads_page, 0.95, first["busy-worker"] + 1) > 0
    assert timeline_pixel(threads_page, 0.1, first["sleeper"] + 1) > 0
    assert timeline_pixel(threads_page, 0.95, first["sleeper"] + 1) == 0
    threads_page.shot("threads-timeline-lanes")
    pick(threads_page, "sleeper")
    # The sleeper is done after 0.3 s of a run of about 0.6 s.
    assert timeline_pixel(threads_page, 0.1, 0) > 0
    assert timeline_pixel(threads_page, 0.95, 0) == 0
    threads_page.shot("thread-timeline")
    pick(threads_page, "busy-worker")
    assert timeline_pixel(threads_page, 0.95, 0) > 0
    page.select_option("#thread", "merged")
    assert timeline_pixel(threads_page, 0.95, 0) > 0
    page.click("[data-tab=flame]")
    pick(threads_page, "busy-worker")
    threads_page.shot("thread-flame")
    threads_page.assert_clean()
