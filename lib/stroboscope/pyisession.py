"""Reads a pyinstrument session file (``.pyisession``) into a stroboscope session.

pyinstrument 4.x and 5.x save a session as one JSON object whose
``frame_records`` is a list of ``[stack, seconds]`` pairs, one per sample;
``stack`` lists frame strings root first. A frame string is
``name NUL file NUL first_line``, optionally followed by attributes, each
``SOH`` + a one-letter marker + a value: ``c`` the class of ``self``/``cls``,
``l`` the line being run, ``h`` set when the frame has ``__tracebackhide__``.
``<built-in>`` files mark C functions, ``<thread>`` files the thread's root
(its "line" is the thread id), and bracketed names such as ``[await]`` are
labels pyinstrument adds in async code.

The two versions differ only in metadata: 4.x writes ``program``, 5.x writes
``target_description``, ``min_interval``/``max_interval``, ``sys_path`` and
``sys_prefixes``. pyinstrument measures no CPU time per sample, so every stack
gets 0 CPU nanoseconds; the session's total comes from ``cpu_time``.

The file is data from elsewhere: it is checked field by field and anything
unexpected raises ValueError naming the field.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from . import _core

__all__ = ["load_pyisession"]

KIND_PYTHON = 0
KIND_C = 1
KIND_SYNTHETIC = 2

MECHANISM = "pyinstrument import"

_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_SIGNED = re.compile(r"-?[0-9]+", re.ASCII)
_INT32_MAX = 2**31 - 1
# The engine keeps times as 64-bit nanoseconds and start_time below 1e12.
_MAX_SECONDS = 9.2e9
_MAX_START_TIME = 1e12

# pyinstrument's labels. [self] and [root] exist only in its in-memory tree,
# but a hand-made file might carry them: [root] above everything, [self] as
# the leaf, both meaning "no frame", so they are dropped.
_LEAF_LABELS = ("[await]", "[out-of-context]")
_DROPPED_LABELS = ("[self]", "[root]")


def _fail(field: str, why: str) -> ValueError:
    return ValueError(f"{field}: {why}")


def _number(
    data: dict, key: str, *, optional: bool = False, nullable: bool = False, limit: float = _MAX_SECONDS
) -> Optional[float]:
    if key not in data:
        if optional:
            return None
        raise _fail(key, "missing")
    v = data[key]
    if v is None and nullable:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(key, f"expected a number, got {type(v).__name__}")
    if not (0 <= v < limit):
        raise _fail(key, f"expected a number from 0 to {limit:g}, got {v!r}")
    return float(v)


def _string(data: dict, key: str, *, optional: bool = False) -> Optional[str]:
    if key not in data:
        if optional:
            return None
        raise _fail(key, "missing")
    v = data[key]
    if not isinstance(v, str):
        raise _fail(key, f"expected a string, got {type(v).__name__}")
    _check_text(v, key)
    return v


def _check_text(v: str, field: str) -> None:
    # Metadata strings go to C as NUL-terminated UTF-8.
    if "\x00" in v:
        raise _fail(field, "contains a NUL character")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(field, "contains a lone surrogate") from None


def _string_list(data: dict, key: str, *, optional: bool = False, text: bool = False) -> Optional[list]:
    if key not in data:
        if optional:
            return None
        raise _fail(key, "missing")
    v = data[key]
    if not isinstance(v, list):
        raise _fail(key, f"expected a list, got {type(v).__name__}")
    for i, item in enumerate(v):
        if not isinstance(item, str):
            raise _fail(f"{key}[{i}]", f"expected a string, got {type(item).__name__}")
        if text:
            _check_text(item, f"{key}[{i}]")
    return v


def _split_info(info: str) -> tuple[str, list[str]]:
    """(identifier, attributes) of a frame string."""
    identifier, sep, rest = info.partition("\x01")
    return identifier, (rest.split("\x01") if sep else [])


def _decode_frame(info: str, field: str) -> tuple:
    """(identifier, name, file, first_line, kind, class_name, line) for one
    frame string; kind is None for a label that stands for no frame."""
    identifier, attributes = _split_info(info)
    class_name = None
    line = 0
    for attr in attributes:
        marker, value = attr[:1], attr[1:]
        if marker == "c":
            if not value:
                raise _fail(field, "empty class name attribute")
            class_name = value
        elif marker == "l":
            if not _SIGNED.fullmatch(value):
                raise _fail(field, f"line attribute is not an integer: {value!r}")
            line = min(max(int(value), 0), _INT32_MAX)
        elif marker == "h":
            pass  # __tracebackhide__: stroboscope has no such view option
        elif not marker:
            raise _fail(field, "empty attribute")
        # Other markers: attributes a later pyinstrument may add; skipped.

    parts = identifier.split("\x00")
    if len(parts) == 1:
        if identifier in _LEAF_LABELS:
            return (identifier, identifier, "", 0, KIND_SYNTHETIC, None, 0)
        if identifier in _DROPPED_LABELS:
            return (identifier, identifier, "", 0, None, None, 0)
        raise _fail(field, f"not a frame identifier: {identifier!r}")
    if len(parts) != 3:
        raise _fail(field, f"expected 3 NUL-separated parts, got {len(parts)}")
    name, file, number = parts
    if not name:
        raise _fail(field, "empty function name")
    if not _NUMBER.fullmatch(number):
        raise _fail(field, f"line number is not an integer: {number!r}")
    if file == "<thread>":
        # The thread's root; the number is its thread id, not a line.
        return (identifier, name, "", 0, KIND_SYNTHETIC, None, 0)
    first_line = int(number)
    if first_line > _INT32_MAX:
        raise _fail(field, f"line number out of range: {number}")
    if file == "<built-in>":
        return (identifier, name, "", 0, KIND_C, None, 0)
    return (identifier, name, file, first_line, KIND_PYTHON, class_name, line)


def _stem_length(stacks: list, start_call_stack: list[str]) -> int:
    """How many leading frames to drop: those above where pyinstrument was
    started, when every sample passed through them. Like pyinstrument's own
    reports, the frame that started the profiler stays as the root."""
    if not stacks:
        return 0
    start = [_split_info(s)[0] for s in start_call_stack]
    shortest = min(len(s) for s, _ in stacks)
    n = 0
    # Stop one short of the shortest stack: a frame that is some sample's
    # leaf has time of its own and must stay.
    while n < len(start) and n < shortest - 1:
        if any(_split_info(s[n])[0] != start[n] for s, _ in stacks):
            break
        n += 1
    return max(n - 1, 0)


def _library_prefixes(prefixes: list[str]) -> list[str]:
    out = []
    for p in prefixes:
        if not p:
            continue
        sep = "\\" if "\\" in p and "/" not in p else "/"
        p = p.rstrip("/\\") + sep
        if p not in out:
            out.append(p)
    return out


def load_pyisession(data: Any, path: str, *, trim_stem: bool = True) -> "_core.SessionData":
    """Converts the parsed JSON of a pyinstrument 4.x or 5.x session file
    (``pyinstrument -r session`` or ``Session.save()``) into session data.
    ``path`` names the file; it is the target when the file names none.
    ``trim_stem`` drops the frames above the one that started pyinstrument.
    Raises ValueError naming the field at fault."""
    if not isinstance(data, dict):
        raise _fail("top level", f"expected a JSON object, got {type(data).__name__}")
    if "frame_records" not in data and "root_frame" in data:
        raise _fail("frame_records", "missing (a pyinstrument 3.x file? only 4.x and 5.x are read)")
    records = data.get("frame_records")
    if records is None:
        raise _fail("frame_records", "missing")
    if not isinstance(records, list):
        raise _fail("frame_records", f"expected a list, got {type(records).__name__}")

    start_time = _number(data, "start_time", limit=_MAX_START_TIME)
    duration = _number(data, "duration")
    cpu_time = _number(data, "cpu_time", optional=True, nullable=True)
    interval = _number(data, "min_interval", optional=True)
    sample_count = data.get("sample_count")
    if "sample_count" not in data:
        raise _fail("sample_count", "missing")
    if isinstance(sample_count, bool) or not isinstance(sample_count, int) or sample_count < 0:
        raise _fail("sample_count", f"expected an integer >= 0, got {sample_count!r}")
    if sample_count != len(records):
        raise _fail("sample_count", f"{sample_count} but frame_records has {len(records)} records")
    start_call_stack = _string_list(data, "start_call_stack")
    target = _string(data, "target_description", optional=True)
    if target is None:
        target = _string(data, "program", optional=True)
    if target is None:
        target = path
    _string_list(data, "sys_path", optional=True)
    sys_prefixes = _string_list(data, "sys_prefixes", optional=True, text=True)

    # First pass: check everything, so a bad file fails before any work.
    decoded: dict[str, tuple] = {}
    # pyinstrument names a frame by (name, file, first_line) and keeps the
    # class of self as a per-sample attribute, which a subclass or a None
    # self can change; like its reports, name each function after the class
    # seen for the longest time, so one function stays one frame.
    class_time: dict[str, dict[str, float]] = {}
    stacks = []
    for i, record in enumerate(records):
        field = f"frame_records[{i}]"
        if not isinstance(record, list) or len(record) != 2:
            raise _fail(field, "expected a [stack, time] pair")
        stack, seconds = record
        if not isinstance(stack, list):
            raise _fail(f"{field}[0]", f"expected a list of frames, got {type(stack).__name__}")
        if not stack:
            raise _fail(f"{field}[0]", "empty stack")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise _fail(f"{field}[1]", f"expected a time in seconds, got {type(seconds).__name__}")
        if not (0 <= seconds < _MAX_SECONDS):
            raise _fail(f"{field}[1]", f"expected a time from 0 to {_MAX_SECONDS:g} s, got {seconds!r}")
        last = len(stack) - 1
        for j, info in enumerate(stack):
            where = f"{field}[0][{j}]"
            if not isinstance(info, str):
                raise _fail(where, f"expected a string, got {type(info).__name__}")
            frame = decoded.get(info)
            if frame is None:
                frame = decoded[info] = _decode_frame(info, where)
            label = frame[0]
            if label == "[root]" and j != 0:
                raise _fail(where, "[root] can only be the first frame")
            if (label == "[self]" or label in _LEAF_LABELS) and j != last:
                raise _fail(where, f"{label} can only be the last frame")
            if frame[5] is not None:
                seen = class_time.setdefault(label, {})
                seen[frame[5]] = seen.get(frame[5], 0.0) + seconds
        stacks.append((stack, seconds))
    class_of = {ident: max(seen, key=seen.__getitem__) for ident, seen in class_time.items()}

    skip = _stem_length(stacks, start_call_stack) if trim_stem else 0
    session = _core.new_session()
    tuples: dict[str, Optional[tuple]] = {}
    for stack, seconds in stacks:
        frames = []
        for j in range(skip, len(stack)):
            info = stack[j]
            t = tuples.get(info, False)
            if t is False:
                identifier, name, file, first_line, kind, _cls, line = decoded[info]
                cls = class_of.get(identifier)
                if cls is not None:
                    name = f"{cls}.{name}"
                t = tuples[info] = None if kind is None else (name, file, first_line, kind, line)
            if t is not None:
                frames.append(t)
        if not frames:
            # Only [root] and [self]: time that pyinstrument gives to no frame.
            continue
        session.add_stack(frames, round(seconds * 1e9), 0, 1)

    meta: dict[str, Any] = dict(
        start_time=start_time,
        duration=duration,
        sample_count=sample_count,
        target=target,
        mechanism=MECHANISM,
    )
    if cpu_time is not None:
        meta["cpu_time"] = cpu_time
    if interval is not None:
        meta["interval"] = interval
    session.set_meta(**meta)
    if sys_prefixes:
        session.library_prefixes = _library_prefixes(sys_prefixes)
    return session
