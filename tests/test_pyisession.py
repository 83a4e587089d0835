"""Reading pyinstrument session files (.pyisession) into stroboscope sessions."""

import copy
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import stroboscope
from stroboscope.pyisession import load_pyisession

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# tests/data/pyinstrument-4.6.2.pyisession was written by pyinstrument 4.6.2
# on Python 3.11 running this program as /tmp/app/app.py:
#     python app.py pyinstrument-4.6.2.pyisession
APP_4X = """
import asyncio
import sys
import time

import pyinstrument


class Walker:
    def walk(self, n):
        return fib(n)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def nap():
    time.sleep(0.03)


async def main():
    profiler = pyinstrument.Profiler(interval=0.005, async_mode="enabled")
    profiler.start()
    w = Walker()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.06:
        w.walk(14)
    nap()
    await asyncio.sleep(0.03)
    profiler.stop().save(sys.argv[1])


asyncio.run(main())
"""

# A program with known functions, for the current pyinstrument.
APP = textwrap.dedent(
    """
    import json, re, time

    class Parser:
        def parse(self, n):
            return [json.loads(json.dumps({"k": list(range(50))})) for _ in range(n)]

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def crunch(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            fib(12)
            Parser().parse(5)
            re.findall(r"[a-z]+", "abc def ghi" * 20)

    def snooze():
        time.sleep(0.04)

    def main():
        crunch(0.15)
        snooze()

    main()
    """
)


def frames_of(session):
    return {(name, kind) for name, _file, _line, kind in session.frames()}


def root_total(session):
    tree = json.loads(session.render("json", show_all=True, threshold=0))
    return next(n for n in tree["nodes"] if n["parent"] is None)


def load(data, path="x.pyisession", **kw):
    return stroboscope.Session(load_pyisession(data, path, **kw))


# -- files written by pyinstrument --------------------------------------------


@pytest.fixture(scope="module")
def current_file(tmp_path_factory):
    """A session written in this process by the installed pyinstrument."""
    pyinstrument = pytest.importorskip("pyinstrument")
    d = tmp_path_factory.mktemp("pyi")
    path = d / "app.py"
    path.write_text(APP)
    code = compile(APP, str(path), "exec")
    profiler = pyinstrument.Profiler(interval=0.001)
    profiler.start()
    exec(code, {"__name__": "app"})
    session = profiler.stop()
    out = d / "app.pyisession"
    session.save(str(out))
    return str(path), str(out), session


def test_current_pyinstrument(current_file):
    app_path, out, pyi = current_file
    with open(out) as f:
        data = json.load(f)
    s = load(data, out)
    names = frames_of(s)
    for fn in ("Parser.parse", "fib", "crunch", "snooze", "main"):
        assert (fn, "python") in names, fn
    assert ("sleep", "c") in names
    files = {file for _n, file, _l, kind in s.frames() if kind == "python"}
    assert app_path in files
    assert s.sample_count == pyi.sample_count == len(data["frame_records"])
    assert s.duration == pytest.approx(pyi.duration, abs=1e-6)
    assert s.cpu_time == pytest.approx(pyi.cpu_time, abs=1e-6)
    assert s.mechanism == "pyinstrument import"
    root = root_total(s)
    assert root["samples"] == pyi.sample_count
    assert root["total_wall"] == pytest.approx(pyi.duration, rel=0.05)
    assert root["total_cpu"] == 0  # pyinstrument keeps no CPU time per sample
    text = s.output_text(show_all=True)
    for fn in ("Parser.parse", "fib", "crunch", "snooze", "sleep"):
        assert fn in text
    # The stem above the caller of profiler.start() is gone: the fixture
    # that started pyinstrument is the root, pytest's frames are not there.
    tree = json.loads(s.render("json", show_all=True, threshold=0))
    roots = [n for n in tree["nodes"] if n["parent"] == root["id"]]
    assert [tree["frames"][n["frame"]]["name"] for n in roots] == ["current_file"]
    assert not any("_pytest" in f[1] or "pluggy" in f[1] for f in s.frames())


def test_current_pyinstrument_metadata(current_file):
    _app, out, pyi = current_file
    with open(out) as f:
        data = json.load(f)
    s = load(data, out)
    if "target_description" in data:  # 5.x
        assert s.target == data["target_description"]
        assert s.interval == pytest.approx(data["min_interval"])
        assert s._data.library_prefixes
        assert all(p.endswith("/") for p in s._data.library_prefixes)
    else:
        assert s.target == data["program"]


@pytest.mark.full
def test_pyinstrument_command_line(tmp_path):
    pytest.importorskip("pyinstrument")
    app = tmp_path / "app.py"
    app.write_text(APP)
    out = tmp_path / "cli.pyisession"
    subprocess.run(
        [sys.executable, "-m", "pyinstrument", "-i", "0.001", "-r", "session", "-o", str(out), str(app)],
        check=True,
        capture_output=True,
        cwd=str(tmp_path),
    )
    with open(out) as f:
        data = json.load(f)
    s = load(data, str(out))
    names = frames_of(s)
    assert ("crunch", "python") in names and ("snooze", "python") in names
    # The thread's root and pyinstrument's own frames above the one that
    # started it are trimmed, as pyinstrument trims them.
    assert not any(kind == "synthetic" for _n, kind in names)
    assert s.sample_count == data["sample_count"]
    assert root_total(s)["total_wall"] == pytest.approx(data["duration"], rel=0.05)
    assert "crunch" in s.output_text()


def test_pyinstrument_4x_file():
    path = os.path.join(DATA, "pyinstrument-4.6.2.pyisession")
    assert os.path.getsize(path) < 20_000
    with open(path) as f:
        data = json.load(f)
    assert "program" in data and "target_description" not in data  # the 4.x layout
    s = load(data, path)
    frames = s.frames()
    names = frames_of(s)
    assert ("Walker.walk", "python") in names
    assert ("fib", "python") in names
    assert ("nap", "python") in names
    assert ("sleep", "c") in names  # time.sleep, a C function
    assert ("[await]", "synthetic") in names  # asyncio.sleep, awaited
    assert all(f[1] == "" for f in frames if f[3] != "python")
    assert ("/tmp/app/app.py", 13) in {(f[1], f[2]) for f in frames if f[0] == "fib"}
    # run, run_until_complete, ... above main() are trimmed; main is the root.
    assert "run_until_complete" not in {f[0] for f in frames}
    assert s.sample_count == data["sample_count"] == 14
    assert s.target == data["program"]
    assert s.cpu_time == pytest.approx(data["cpu_time"])
    assert s.interval == 0  # 4.x does not record it
    root = root_total(s)
    assert root["total_wall"] == pytest.approx(data["duration"], rel=0.05)
    text = s.output_text(show_all=True)
    assert "Walker.walk" in text and "[await]" in text and "nap" in text
    # Untrimmed, the thread's root is a synthetic frame named after it.
    full = load(data, path, trim_stem=False)
    assert ("MainThread", "synthetic") in frames_of(full)
    assert root_total(full)["total_wall"] == pytest.approx(root["total_wall"])


# -- hand-made files -----------------------------------------------------------


def fr(name, file="/app/m.py", first=1, *attrs):
    return "\x00".join([name, file, str(first)]) + "".join("\x01" + a for a in attrs)


THREAD = fr("MainThread", "<thread>", 140000000000001)
MAIN = fr("main", "/app/m.py", 10, "l12")


def minimal(**over):
    data = {
        "start_time": 1700000000.5,
        "duration": 0.004,
        "min_interval": 0.001,
        "max_interval": 0.001,
        "sample_count": 3,
        "start_call_stack": [THREAD, MAIN],
        "target_description": "Program: m.py",
        "cpu_time": 0.002,
        "sys_path": ["/app"],
        "sys_prefixes": ["/usr", "/usr/local"],
        "frame_records": [
            [[THREAD, MAIN, fr("work", "/app/m.py", 20, "cBox", "l21")], 0.001],
            [[THREAD, MAIN, fr("work", "/app/m.py", 20, "cBox", "l22"), fr("sleep", "<built-in>", 0)], 0.002],
            [[THREAD, MAIN, fr("work", "/app/m.py", 20, "cSubBox", "l21", "h1")], 0.001],
        ],
    }
    data.update(over)
    return data


def test_minimal():
    s = load(minimal())
    assert sorted(s.frames()) == sorted(
        [("main", "/app/m.py", 10, "python"), ("Box.work", "/app/m.py", 20, "python"), ("sleep", "", 0, "c")]
    )
    assert s.sample_count == 3
    assert s.duration == pytest.approx(0.004)
    assert s.cpu_time == pytest.approx(0.002)
    assert s.interval == pytest.approx(0.001)
    assert s.start_time == pytest.approx(1700000000.5)
    assert s.target == "Program: m.py"
    assert s._data.library_prefixes == ["/usr/", "/usr/local/"]
    root = root_total(s)
    assert root["total_wall"] == pytest.approx(0.004)
    assert root["samples"] == 3


def test_class_name_seen_longest_names_the_frame():
    data = minimal()
    data["frame_records"][2][1] = 0.5
    data["duration"] = 0.503
    s = load(data)
    assert ("SubBox.work", "python") in frames_of(s)
    assert ("Box.work", "python") not in frames_of(s)


def test_4x_layout_and_null_cpu_time():
    data = minimal(program="m.py", cpu_time=None)
    for key in ("target_description", "min_interval", "max_interval", "sys_path", "sys_prefixes"):
        del data[key]
    s = load(data)
    assert s.target == "m.py"
    assert s.cpu_time == 0
    assert s._data.library_prefixes == []


def test_target_defaults_to_path():
    data = minimal()
    del data["target_description"]
    assert load(data, "/some/where.pyisession").target == "/some/where.pyisession"


def test_synthetic_labels():
    data = minimal(sample_count=4, duration=0.006, start_call_stack=[])
    data["frame_records"] = [
        [["[root]", THREAD, MAIN, "[await]"], 0.002],
        [[THREAD, MAIN, "[out-of-context]"], 0.001],
        [[THREAD, MAIN, "[self]"], 0.002],
        [["[root]", "[self]"], 0.001],  # time that belongs to no frame
    ]
    s = load(data)
    names = frames_of(s)
    assert ("[await]", "synthetic") in names
    assert ("[out-of-context]", "synthetic") in names
    assert ("MainThread", "synthetic") in names
    assert not any(n in ("[self]", "[root]") for n, _k in names)
    assert root_total(s)["total_wall"] == pytest.approx(0.005)


def test_empty_session():
    s = load(minimal(frame_records=[], sample_count=0, duration=0.0))
    assert s.sample_count == 0 and s.frames() == []
    s.output_text()


def test_lone_surrogates_and_control_characters_in_names():
    data = minimal(sample_count=1, start_call_stack=[])
    data["frame_records"] = [[[fr("f\ud800\x02", "/app/\x7f.py", 3)], 0.001]]
    s = load(data)
    assert s.frames() == [("f\ud800\x02", "/app/\x7f.py", 3, "python")]
    s.output_text()


def test_does_not_change_its_input():
    data = minimal()
    before = copy.deepcopy(data)
    load(data)
    assert data == before


def _set(path, value):
    def edit(d):
        *head, last = path
        for k in head:
            d = d[k]
        if value is KeyError:
            del d[last]
        else:
            d[last] = value
    return edit


MALFORMED = [
    # (what changes, field the message must name)
    (lambda d: d.clear(), "frame_records"),
    (_set(["frame_records"], KeyError), "frame_records"),
    (_set(["frame_records"], {}), "frame_records"),
    (_set(["start_time"], KeyError), "start_time"),
    (_set(["start_time"], "2024"), "start_time"),
    (_set(["start_time"], 1e13), "start_time"),
    (_set(["duration"], KeyError), "duration"),
    (_set(["duration"], -1.0), "duration"),
    (_set(["duration"], float("nan")), "duration"),
    (_set(["duration"], float("inf")), "duration"),
    (_set(["duration"], True), "duration"),
    (_set(["cpu_time"], "0.1"), "cpu_time"),
    (_set(["min_interval"], [0.001]), "min_interval"),
    (_set(["sample_count"], KeyError), "sample_count"),
    (_set(["sample_count"], 3.0), "sample_count"),
    (_set(["sample_count"], 4), "sample_count"),
    (_set(["sample_count"], -3), "sample_count"),
    (_set(["start_call_stack"], KeyError), "start_call_stack"),
    (_set(["start_call_stack"], "main"), "start_call_stack"),
    (_set(["start_call_stack", 0], 7), "start_call_stack[0]"),
    (_set(["target_description"], 3), "target_description"),
    (_set(["target_description"], "a\x00b"), "target_description"),
    (_set(["sys_path"], [None]), "sys_path[0]"),
    (_set(["sys_prefixes"], "/usr"), "sys_prefixes"),
    (_set(["sys_prefixes", 1], "/\udc80"), "sys_prefixes[1]"),
    (_set(["frame_records", 1], "stack"), "frame_records[1]"),
    (_set(["frame_records", 1], [[MAIN]]), "frame_records[1]"),
    (_set(["frame_records", 1], [[MAIN], 0.1, 2]), "frame_records[1]"),
    (_set(["frame_records", 1, 0], MAIN), "frame_records[1][0]"),
    (_set(["frame_records", 1, 0], []), "frame_records[1][0]"),
    (_set(["frame_records", 1, 1], "0.1"), "frame_records[1][1]"),
    (_set(["frame_records", 1, 1], -0.1), "frame_records[1][1]"),
    (_set(["frame_records", 1, 1], None), "frame_records[1][1]"),
    (_set(["frame_records", 1, 1], 1e300), "frame_records[1][1]"),
    (_set(["frame_records", 1, 0, 2], 3), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "[unknown]"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x001\x00x"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "\x00/a.py\x001"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x00one"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x00-1"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x00 1"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x0099999999999"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x001\x01"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x001\x01lx"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 2], "work\x00/a.py\x001\x01c"), "frame_records[1][0][2]"),
    (_set(["frame_records", 1, 0, 1], "[await]"), "frame_records[1][0][1]"),
    (_set(["frame_records", 1, 0, 1], "[self]"), "frame_records[1][0][1]"),
    (_set(["frame_records", 1, 0, 1], "[root]"), "frame_records[1][0][1]"),
]


@pytest.mark.parametrize("edit,field", MALFORMED)
def test_malformed(edit, field):
    data = minimal()
    edit(data)
    with pytest.raises(ValueError) as e:
        load_pyisession(data, "bad.pyisession")
    assert str(e.value).startswith(field + ":"), str(e.value)


@pytest.mark.parametrize("data", [None, [], "{}", 3])
def test_not_an_object(data):
    with pytest.raises(ValueError, match="top level"):
        load_pyisession(data, "bad.pyisession")


def test_pyinstrument_3x_file_is_named():
    with pytest.raises(ValueError, match="3.x"):
        load_pyisession({"root_frame": {}, "start_time": 0, "duration": 0}, "old.pyisession")


def test_unknown_attributes_are_skipped():
    data = minimal()
    data["frame_records"][0][0][2] += "\x01zsomething new"
    assert load(data).sample_count == 3


def test_large_file_is_quick():
    n = 20000
    stack = [THREAD, MAIN] + [fr(f"f{i}", "/app/deep.py", i, f"l{i + 1}") for i in range(40)]
    data = minimal(sample_count=n, duration=n * 0.001)
    data["frame_records"] = [[stack[: 3 + i % 40], 0.001] for i in range(n)]
    t0 = time.perf_counter()
    s = load(data)
    assert time.perf_counter() - t0 < 5
    assert s.sample_count == n


def test_session_load_reads_pyisession_and_saves_as_stroboscope(tmp_path):
    path = os.path.join(DATA, "pyinstrument-4.6.2.pyisession")
    s = stroboscope.Session.load(path)
    assert s.mechanism == "pyinstrument import"
    out = tmp_path / "converted.session"
    s.save(str(out))
    again = stroboscope.Session.load(str(out))
    assert sorted(again.frames()) == sorted(s.frames())
    assert again.sample_count == s.sample_count
    assert again.output_text() == s.output_text()
    assert out.stat().st_size < os.path.getsize(path)


def test_session_load_names_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.pyisession"
    bad.write_text(json.dumps(minimal(sample_count=7)))
    with pytest.raises(ValueError) as e:
        stroboscope.Session.load(str(bad))
    assert "bad.pyisession" in str(e.value) and "sample_count" in str(e.value)
