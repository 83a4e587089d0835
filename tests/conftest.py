import pytest


@pytest.fixture(autouse=True)
def private_history(tmp_path_factory, monkeypatch):
    """Every command-line run saves its session for --load-prev: keep those
    out of the real home directory, one directory per test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
