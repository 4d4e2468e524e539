"""Split decoded bytes into JSON values, recognising the layout by content.

Three layouts are recognised, in this order:

1. one JSON document (``{"Records":[…]}``, a bare array, a single pretty-printed object) —
   parsed with orjson in one call;
2. NDJSON — one value per line, when lines parse on their own (the first one, or at least half
   of the first 64 non-blank lines, so a damaged first line does not hide the layout);
   every line is parsed alone: a bad line is one rejection with its 1-based line number and can
   never swallow the next line;
3. concatenated values (pretty-printed objects one after another, or a damaged document) —
   each value's extent is found by an iterative bracket scanner (no recursion, whatever the
   depth) and the value's bytes are parsed with orjson; a value that does not close before the
   next line starting with ``{`` or ``[`` (or the end of the input) ends there.

The same rules hold on every path: input that is not valid UTF-8 (or holds a lone surrogate
escape such as ``\\ud800``) is rejected, never loaded altered; a value deeper than
``max_depth`` or a line/value larger than ``max_record_bytes`` is rejected naming the setting
(:mod:`pipeline.sources.limits`); the rejection keeps the raw bytes.

A value that fails and has the shape ``[e1, e2, …`` or ``{"key": [e1, …`` (a CloudTrail
``Records`` file, a truncated gzip stream) is split into its elements: complete, valid elements
are kept (their positions are their array indices, ``Doc.first`` onwards), each bad element is
one rejection, and a damaged tail is one rejection, so no good record is lost and every element
is accounted for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.sources.limits import DEFAULT_LIMITS, Limits

_WS = re.compile(rb"[ \t\r\n]*")
_STRING = rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'  # unrolled: the common run of plain characters in one step
_TOKEN = re.compile(_STRING + rb'|"|[\[\]{}]|\n(?=[\[{])')
_RESYNC = re.compile(rb"\n(?=[\[{])")
_ARRAY_HEAD = re.compile(rb'[ \t\r\n]*(?:\{[ \t\r\n]*"((?:[^"\\]|\\.)*)"[ \t\r\n]*:[ \t\r\n]*)?\[')
_SCALAR = re.compile(_STRING + rb"|[^,\]\s]+")
_CLOSE = {ord("{"): ord("}"), ord("["): ord("]")}
_SAMPLE_LINES = 64
_NL = b"\n"


@dataclass
class Doc:
    """One top-level JSON value (or a run of elements of one) found in the input.

    Attributes:
        line: 1-based line where the value starts (None for the value that starts the input);
            for an error about one array element of a value starting the input, that element's
            0-based index.
        value: the parsed value (None when ``error`` is set and nothing was salvaged).
        error: why the value (or its tail, or one element) could not be parsed, else None.
        raw: the bytes that failed (for the rejection), else ``b""``.
        partial: True when ``value`` holds elements salvaged before a damaged tail;
            ``salvaged`` is how many elements came before the damage.
        layout: ``document`` | ``ndjson`` | ``concatenated``.
        first: array index of the first element in ``value`` (elements after a bad one).
    """

    line: int | None
    value: Any
    error: str | None = None
    raw: bytes = b""
    partial: bool = False
    salvaged: int = 0
    layout: str = "document"
    first: int = 0


def head(data: bytes) -> bytes:
    """The first byte after leading whitespace (``b""`` for blank input), without copying ``data``."""
    i = _WS.match(data).end()  # type: ignore[union-attr]
    return data[i:i + 1]


def _reason(exc: orjson.JSONDecodeError) -> str:
    msg = str(exc)
    if "UTF-8" in msg or "surrogate" in msg:
        return f"invalid UTF-8 or a lone surrogate escape: {msg}"
    if "depth limit" in msg:
        return f"nested deeper than the parser's {1024} levels: {msg}"
    return f"malformed JSON: {msg}"


def documents(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Iterator[Doc]:
    """Yield the JSON values in ``data`` (see the module docstring for the rules). Never raises."""
    if not data.startswith(b"\xef\xbb\xbf"):
        try:  # the common case, without copying ``data`` to strip it (orjson skips whitespace)
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            yield Doc(None, value)
            return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not head(data):
        return
    try:
        yield Doc(None, orjson.loads(data))
        return
    except orjson.JSONDecodeError as exc:
        whole_error = _reason(exc)
    data = data[_WS.match(data).end():]  # type: ignore[union-attr]
    if b"\n" in data and _looks_ndjson(data):
        yield from _ndjson(data, limits)
        return
    yield from _concatenated(data, whole_error, limits)


def _container(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict | list)
    except orjson.JSONDecodeError:
        return False


def _looks_ndjson(data: bytes) -> bool:
    """True when lines parse on their own: the first one, or half of the first 64. (Input that is
    NDJSON but not recognised here still loses nothing: the concatenated walk ends every damaged
    value at the next line starting with ``{`` or ``[``. The other way round would be worse: an
    array written one element per line would be read as lines.)"""
    seen = good = 0
    for line in itertools.islice(_lines(data), _SAMPLE_LINES * 4):
        if not line.strip():
            continue
        ok = _container(line)
        if seen == 0 and ok:
            return True
        seen += 1
        good += ok
        if seen >= _SAMPLE_LINES:
            break
    return good * 2 >= seen > 0


def _lines(data: bytes) -> Iterator[bytes]:
    """``data.split(b"\\n")`` one line at a time (no list of every line held at once)."""
    start, n = 0, len(data)
    while start <= n:
        end = data.find(b"\n", start)
        if end < 0:
            end = n
        yield data[start:end]
        start = end + 1


def _ndjson(data: bytes, limits: Limits) -> Iterator[Doc]:
    for i, line in enumerate(_lines(data), start=1):
        if not line.strip():
            continue
        if len(line) > limits.max_record_bytes:
            yield Doc(i, None, limits.record_reason(len(line)), line, layout="ndjson")
            continue
        try:
            yield Doc(i, orjson.loads(line), layout="ndjson")
        except orjson.JSONDecodeError as exc:
            reason = _reason(exc)
            if line.lstrip()[:1] in (b"{", b"["):
                end, depth, problem = scan(line, len(line) - len(line.lstrip()), limits.max_depth)
                if problem is None and depth > limits.max_depth:
                    reason = limits.depth_reason()
                text = line.strip()
                split = _elements(text, 0, len(text), i, reason, limits, "ndjson")
                if split is not None:
                    yield from split[0]
                    continue
            yield Doc(i, None, reason, line, layout="ndjson")


def scan(data: bytes, start: int, max_depth: int) -> tuple[int, int, str | None]:
    """Find the end of the object or array starting at ``data[start]`` without recursion.

    Returns ``(end, deepest, problem)``: ``end`` is just past the closing bracket (or where the
    value had to stop), ``deepest`` the deepest nesting seen, ``problem`` None for a balanced
    value, else why it stopped (unterminated string, mismatched bracket, input ended or a new
    value started at the beginning of a line before it closed). Scanning goes on past
    ``max_depth`` (only to find the end); the caller compares ``deepest``.
    """
    stack: list[int] = []
    deepest = 0
    at_line_start = start == 0 or data[start - 1] == 0x0A
    for m in _TOKEN.finditer(data, start):
        tok = m.group()
        c = tok[0]
        if c == 0x22:
            if len(tok) == 1:
                return m.start(), deepest, "unterminated string"
            continue
        if c == 0x0A:
            if at_line_start and stack:
                return m.start(), deepest, "value does not close before the next line starting with { or ["
            continue
        if c in _CLOSE:
            stack.append(_CLOSE[c])
            deepest = max(deepest, len(stack))
            continue
        if not stack or stack.pop() != c:
            return m.start(), deepest, f"unexpected {chr(c)!r}"
        if not stack:
            return m.end(), deepest, None
    return len(data), deepest, "input ends before the value closes"


def _one(chunk: bytes, limits: Limits) -> tuple[Any, str | None]:
    """Parse one complete value's bytes, or say why not."""
    if len(chunk) > limits.max_record_bytes:
        return None, limits.record_reason(len(chunk))
    if chunk[:1] in (b"{", b"["):
        _, depth, _ = scan(chunk, 0, limits.max_depth)
        if depth > limits.max_depth:
            return None, limits.depth_reason()
    try:
        return orjson.loads(chunk), None
    except orjson.JSONDecodeError as exc:
        return None, _reason(exc)


def _concatenated(data: bytes, whole_error: str, limits: Limits) -> Iterator[Doc]:
    pos, line, n = 0, 1, len(data)
    while True:
        start = _WS.match(data, pos).end()  # type: ignore[union-attr]
        line += data.count(b"\n", pos, start)
        if start >= n:
            return
        where = None if start == 0 else line
        if data[start] in _CLOSE:
            end, depth, problem = scan(data, start, limits.max_depth)
            if problem is None:
                value, reason = _one(data[start:end], limits)
                if reason is None:
                    yield Doc(line, value, layout="concatenated")
                    line += data.count(b"\n", start, end)
                    pos = end
                    continue
                split = _elements(data, start, end, where, reason, limits, "concatenated")
            else:
                reason = f"malformed JSON: {problem} (line {line + data.count(_NL, start, end)})"
                if start == 0 and problem.startswith("input ends"):
                    reason = whole_error
                split = _elements(data, start, n, where, reason, limits, "concatenated")
                if split is None:
                    m = _RESYNC.search(data, max(end - 1, start))
                    end = m.start() + 1 if m else n
            if split is not None:
                docs, end = split
                yield from docs
            else:
                if start == 0 and end == n:
                    reason = whole_error
                yield Doc(line, None, reason, data[start:end], layout="concatenated")
        else:
            m = _RESYNC.search(data, start)
            end = m.start() + 1 if m else n
            chunk = data[start:end]
            value, reason = _one(chunk.strip(), limits)
            if reason is None:
                yield Doc(line, value, layout="concatenated")
            else:
                if start == 0 and end == n:
                    reason = whole_error
                yield Doc(line, None, reason, chunk, layout="concatenated")
        line += data.count(b"\n", start, end)
        pos = end


def _elements(buf: bytes, lo: int, hi: int, where: int | None, reason: str, limits: Limits,
              layout: str) -> tuple[list[Doc], int] | None:
    """Split a failed ``[…`` / ``{"key": […`` value starting at ``buf[lo]`` into its elements
    (module docstring); returns the Docs and where the value ended, or None for another shape.

    ``where`` is the Doc line of the value (None for the value that starts the input, whose
    element errors then carry the element index). An element that does not close is one
    rejection when elements start lines (an array written one element per line) — the next
    element is the next line starting with ``{`` or ``[`` — and otherwise ends the array: the
    rest up to the next such line is one rejection.
    """
    m = _ARRAY_HEAD.match(buf, lo, hi)
    if not m:
        return None
    key: str | None = None
    if m.group(1) is not None:
        try:
            key = orjson.loads(b'"' + m.group(1) + b'"')
        except orjson.JSONDecodeError:
            return None
    i, idx, first = m.end(), 0, 0
    items: list[Any] = []
    docs: list[Doc] = []
    per_line: bool | None = None

    def run(**kw: Any) -> Doc:
        return Doc(where, {key: items} if key is not None else items, layout=layout, first=first, **kw)

    def bad(at: int, end: int, why: str) -> None:
        nonlocal items, first
        if items:
            docs.append(run())
        items = []
        docs.append(Doc(idx if where is None else where, None, f"array element {idx}: {why}", buf[at:end],
                        layout=layout))
        first = idx + 1

    tail: str | None = None
    while True:
        i = _WS.match(buf, i, hi).end()  # type: ignore[union-attr]
        if i >= hi:
            tail = reason
            break
        if buf[i] == 0x5D and idx == 0:  # "]" of an empty array
            i += 1
            break
        if per_line is None:
            per_line = buf[i - 1] == 0x0A
        if buf[i] in _CLOSE:
            end, _, problem = scan(buf, i, limits.max_depth)
            if problem is not None or end > hi:
                nxt = _RESYNC.search(buf, i, hi)
                if per_line and nxt is not None:  # this element is damaged; the next starts the next line
                    bad(i, nxt.start(), f"malformed JSON: {problem}")
                    idx += 1
                    i = nxt.start() + 1
                    continue
                tail = reason
                break
            value, why = _one(buf[i:end], limits)
        else:
            sm = _SCALAR.match(buf, i, hi)
            if sm is None:
                tail = reason
                break
            end = sm.end()
            value, why = _one(buf[i:end], limits)
        if why is not None:
            bad(i, end, why)
        else:
            items.append(value)
        idx += 1
        i = _WS.match(buf, end, hi).end()  # type: ignore[union-attr]
        if i < hi and buf[i] == 0x2C:  # ","
            i += 1
            continue
        if i < hi and buf[i] == 0x5D:  # "]"
            i += 1
            break
        tail = reason
        break
    stop = i
    if tail is None:
        if key is None:
            return _finish_array(docs, run, items, idx, i)
        close = _WS.match(buf, i, hi).end()  # type: ignore[union-attr]
        if buf[close:close + 1] == b"}":
            return _finish_array(docs, run, items, idx, close + 1)
        end, _, problem = scan(buf, lo, limits.max_depth)  # other members after the array
        if problem is None and end <= hi and buf[close:close + 1] == b"," and _container(b"{" + buf[close + 1:end]):
            return _finish_array(docs, run, items, idx, end)
        tail, stop = f"{reason} (after the array)", close
    nxt = _RESYNC.search(buf, max(stop, lo + 1), hi)
    stop_at = nxt.start() + 1 if nxt else hi
    if items:
        docs.append(run(error=tail, raw=buf[stop:stop_at], partial=True, salvaged=idx))
    else:  # nothing to keep: the damage alone (the whole value when no element was complete)
        docs.append(Doc(where, None, tail, buf[stop:stop_at] if idx else buf[lo:stop_at], layout=layout))
    return docs, stop_at


def _finish_array(docs: list[Doc], run: Any, items: list[Any], idx: int, end: int) -> tuple[list[Doc], int]:
    if items or idx == 0:
        docs.append(run())
    return docs, end
