"""Sessions: save, load, combine, the timeline, untrusted files, and
reloading from the command line."""

import json
import os
import pickle
import subprocess
import sys
import time

import pytest

import stroboscope
from stroboscope import Profiler, Session, SessionLoadError, _core, history


def work():
    total = 0
    for _ in range(3):
        total += sum(i * i for i in range(100000))
        time.sleep(0.01)
    return total


def recorded(**kw):
    with Profiler(**kw) as p:
        work()
    return p.last_session


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "stroboscope", *map(str, args)],
        capture_output=True, text=True, timeout=60, cwd=cwd,
    )  # fmt: skip


def test_save_load_renders_byte_identical(tmp_path):
    s = recorded(timeline=True)
    path = tmp_path / "run.strobe"
    s.save(path)
    loaded = Session.load(path)
    for renderer in ("text", "json", "html"):
        for opts in ({}, {"show_all": True}, {"time": "cpu", "threshold": 0}):
            assert loaded.render(renderer, **opts) == s.render(renderer, **opts)
    assert loaded.render("text", color=True, unicode=True) == s.render("text", color=True, unicode=True)
    assert loaded.sample_count == s.sample_count
    assert loaded.mechanism == s.mechanism and loaded.python_version == s.python_version
    assert loaded.library_prefixes == s.library_prefixes and loaded.library_prefixes
    assert loaded.timeline == s.timeline
    # Saving the loaded session again gives the same bytes.
    again = tmp_path / "again.strobe"
    loaded.save(again)
    assert again.read_bytes() == path.read_bytes()


def test_timeline_is_recorded_and_bounded():
    s = recorded(timeline=True)
    tl = s.timeline
    assert tl and len(tl) <= s.sample_count
    times = [t for t, _ in tl]
    assert times == sorted(times) and times[-1] <= s.duration
    assert recorded().timeline is None


def fifty_thousand_deep():
    data = _core.new_session()
    frames = [(f"f{i % 7}", "/app/deep.py", 1 + i % 7, 0, 10 + i % 7) for i in range(50000)]
    data.add_stack(frames, 5_000_000, 4_000_000)
    data.add_stack(frames[:10] + [("leaf", "/app/deep.py", 99, 0, 100)], 1_000_000, 1_000_000)
    data.set_meta(duration=0.006, sample_count=2, interval=0.001)
    return Session(data)


def test_fifty_thousand_deep_stack_saves_loads_and_renders(tmp_path):
    s = fifty_thousand_deep()
    path = tmp_path / "deep.strobe"
    s.save(path)
    loaded = Session.load(path)
    text = loaded.render("text", unicode=False)
    assert text == s.render("text", unicode=False)
    assert "leaf" in text
    doc = json.loads(loaded.render("json", threshold=0))
    assert all(n["parent"] is None or n["parent"] < n["id"] for n in doc["nodes"])


def test_hostile_names_round_trip_exactly(tmp_path):
    names = ["nul\x00byte", "esc\x1b[31mred", "lone\udcffsurrogate", "\ud800", "line\nbreak\u2028", "</script>"]
    data = _core.new_session()
    for n in names:
        data.add_stack([("<module>", "/app/x.py", 1, 0, 1), (n, "/app/\udc80weird.py", 5, 0, 6)], 1000, 1000)
    s = Session(data)
    path = tmp_path / "hostile.strobe"
    s.save(path)
    loaded = Session.load(path)
    assert [f[0] for f in loaded.frames()] == [f[0] for f in s.frames()]
    assert set(names) <= {f[0] for f in loaded.frames()}
    assert "/app/\udc80weird.py" in {f[1] for f in loaded.frames()}
    assert loaded.render("text", threshold=0) == s.render("text", threshold=0)
    assert "\x1b" not in loaded.render("text", threshold=0)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "run.strobe"
    recorded().save(path)
    good = path.read_bytes()

    def crash(*a, **k):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        recorded().save(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["run.strobe"]  # no temporary file left


def test_combine_adds_samples_and_time():
    a, b = recorded(), recorded()
    c = Session.combine(a, b)
    assert c.sample_count == a.sample_count + b.sample_count
    assert c.duration == pytest.approx(a.duration + b.duration)
    total = lambda s: json.loads(s.render("json"))["nodes"][0]["total_wall"]  # noqa: E731
    assert total(c) == pytest.approx(total(a) + total(b), rel=1e-6)


def test_restarting_a_profiler_combines_its_sessions():
    p = Profiler()
    with p:
        work()
    first = p.last_session.sample_count
    with p:
        work()
    assert p.last_session.sample_count > first
    p.reset()
    assert p.last_session is None
    with p:
        work()
    assert 0 < p.last_session.sample_count


def test_session_renderer_is_the_file_format():
    s = recorded()
    doc = json.loads(s.render("session"))
    assert doc["format"] == "stroboscope-session" and doc["version"] == 1


# -- untrusted files -----------------------------------------------------------

def valid_doc():
    return json.loads(recorded().render("session"))


def malformed_cases():
    doc = valid_doc()
    cases = {
        "empty": b"",
        "truncated": json.dumps(doc).encode()[:-25],
        "list": b"[]",
        "empty object": b"{}",
        "pickle": pickle.dumps({"format": "stroboscope-session"}),
        "deeply nested": b"[" * 100000 + b"]" * 100000,
        "huge string": json.dumps({"format": "x" * (20 << 20)}).encode(),
        "nan": json.dumps(doc).replace('"duration_ns": ', '"duration_ns": NaN, "x": ').encode(),
    }

    def variant(name, fn):
        d = json.loads(json.dumps(doc))
        fn(d)
        cases[name] = json.dumps(d).encode()

    variant("unknown version", lambda d: d.update(version=99))
    variant("missing nodes", lambda d: d.pop("nodes"))
    variant("meta wrong type", lambda d: d.update(meta=[]))
    variant("negative duration", lambda d: d["meta"].update(duration_ns=-5))
    variant("float count", lambda d: d["meta"].update(sample_count=1.5))
    variant("parent points nowhere", lambda d: d["nodes"][-1].__setitem__(0, 10**6))
    variant("parent cycle", lambda d: d["nodes"][1].__setitem__(0, len(d["nodes"]) - 1))
    variant("frame out of range", lambda d: d["nodes"][-1].__setitem__(1, 10**6))
    variant("string index out of range", lambda d: d["frames"][0].__setitem__(0, 10**6))
    return cases


@pytest.mark.parametrize("name", sorted(malformed_cases()))
def test_malformed_session_files_fail_cleanly(tmp_path, name):
    path = tmp_path / "bad.strobe"
    path.write_bytes(malformed_cases()[name])
    with pytest.raises(SessionLoadError) as info:
        Session.load(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert isinstance(info.value, ValueError)


def test_malformed_file_from_the_command_line(tmp_path):
    path = tmp_path / "bad.strobe"
    path.write_bytes(b'{"format": "stroboscope-session", "version": 1}')
    r = cli("--load", path)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and str(path) in r.stderr and "Traceback" not in r.stderr


# -- reloading from the command line ---------------------------------------------

def test_load_renders_any_way(tmp_path):
    path = tmp_path / "run.strobe"
    s = recorded()
    s.save(path)
    text = cli("--load", path, "--no-color", "--unicode")
    assert text.returncode == 0 and text.stderr == s.render("text", unicode=True, color=False)
    js = cli("--load", path, "-r", "json")
    assert js.returncode == 0 and json.loads(js.stderr)["nodes"]
    out = tmp_path / "copy.json"
    assert cli("--load", path, "-o", out).returncode == 0
    assert json.loads(out.read_text())["format"] == "stroboscope-tree"


def test_runs_are_kept_and_reloadable(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text("import time\nsum(range(100000))\ntime.sleep(0.01)\n")
    ids = []
    for _ in range(12):
        r = cli("--no-color", prog)
        assert r.returncode == 0
        line = [ln for ln in r.stderr.splitlines() if "--load-prev" in ln][0]
        ids.append(line.rsplit(" ", 1)[1])
    assert len(set(ids)) == 12  # unique, even within one second
    kept = [e.id for e in history.entries()]
    assert kept == ids[-history.KEEP:]
    listing = cli("--list-prev")
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == history.KEEP
    assert ids[-1] in listing.stdout and "prog.py" in listing.stdout
    latest = cli("--load-prev", "--no-color")
    assert latest.returncode == 0 and "prog.py" in latest.stderr
    by_id = cli("--load-prev", ids[-3], "-r", "json")
    assert by_id.returncode == 0 and json.loads(by_id.stderr)["meta"]["target"].endswith("prog.py")


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "/etc/passwd", "20261124-235900-1-0/../x", "nope"])
def test_an_id_never_names_a_path_outside_the_directory(bad_id):
    r = cli("--load-prev", bad_id)
    assert r.returncode == 1 and "not a session id" in r.stderr
    with pytest.raises(ValueError):
        history.path_for(bad_id)


def test_load_prev_with_nothing_saved():
    r = cli("--load-prev")
    assert r.returncode == 1 and "no saved sessions" in r.stderr


def test_load_with_a_program_is_an_error(tmp_path):
    r = cli("--load", tmp_path / "x.strobe", "prog.py")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_stroboscope_exports():
    assert issubclass(stroboscope.SessionLoadError, ValueError)
