import pytest


@pytest.fixture(autouse=True)
def private_history(tmp_path_factory, monkeypatch):
    """Every command-line run saves its session for --load-prev: keep those
    out of the real home directory, one directory per test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


def pytest_collection_modifyitems(session, config, items):
    """The browser tests last: Playwright's sync API keeps an event loop
    running on the main thread until the session ends, and asyncio.run()
    refuses to start under it (tests/test_async.py, the ASGI tests)."""
    items.sort(key=lambda item: "browser" in item.path.parts)
