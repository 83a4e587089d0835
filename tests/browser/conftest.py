"""Browser tests of the HTML report (report_templates/): the real renderer
(``stroboscope -r html`` / ``Session.render("html")``) writes each page and a
headless Chromium shows it through Playwright.

They need the ``playwright`` Python package and a Chromium binary at
/usr/bin/chromium (or $STROBOSCOPE_CHROMIUM); Playwright never downloads a
browser here. When either is missing every test fails saying what to
install: nothing is skipped.

Screenshots go to tests/browser/artifacts/ for a person to look at.
"""

import os
import pathlib

import pytest
from pagetools import EXAMPLES, profile

CHROMIUM = os.environ.get("STROBOSCOPE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = pathlib.Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the browser tests need the playwright package (pip install playwright); "
            f"they use the Chromium at {CHROMIUM} and never download one",
            pytrace=False,
        )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium, "
            "or point STROBOSCOPE_CHROMIUM at one)",
            pytrace=False,
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Report:
    """One page in its own browser context (so its own localStorage), with
    what went wrong recorded: console errors, page errors, requests."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.errors = []
        self.requests = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"{e}\n{e.stack}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = None

    def open(self, path):
        self.url = pathlib.Path(path).resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_function("window.stroboscope !== undefined")
        return self

    def rows(self):
        return self.page.evaluate("window.stroboscope.viewRows()")

    def settings(self):
        return self.page.evaluate("window.stroboscope.settings()")

    def shot(self, name):
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def assert_clean(self):
        assert self.errors == []
        assert self.requests and all(u == self.url for u in self.requests), self.requests


@pytest.fixture
def report(browser):
    r = Report(browser)
    yield r
    r.context.close()


@pytest.fixture(scope="session")
def busy_session(tmp_path_factory):
    """A real profile of examples/busy.py, with a timeline: of its main thread
    only, so the tree starts at <module> (test_report_threads.py has the
    all-threads sessions)."""
    d = tmp_path_factory.mktemp("busy")
    return profile(EXAMPLES / "busy.py", d / "busy.strobe", options=["--timeline", "--main-thread"])
