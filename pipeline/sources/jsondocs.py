"""Split decoded bytes into JSON values, recognising the layout by content.

Three layouts are recognised, in this order:

1. one JSON document (``{"Records":[…]}``, a bare array, a single pretty-printed object) —
   parsed with orjson in one call;
2. NDJSON — one value per line, when the first non-blank line is itself a complete value;
   a bad line is reported with its 1-based line number and the other lines are kept;
3. concatenated values (pretty-printed objects one after another, or a damaged document) —
   walked with a streaming decoder; after a bad value the walk resynchronises at the next line
   that starts with ``{`` or ``[``.

A damaged document whose first container is an array (``[e1, e2, …`` or ``{"Records": [e1, …``,
e.g. from a truncated gzip file) is *salvaged*: the complete elements before the damage are
returned as a partial value and the damaged tail as one error, so no good record is lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

_WS = re.compile(r"\s*")
_RESYNC = re.compile(r"\n[ \t]*[\[{]")
_DECODER = json.JSONDecoder()


@dataclass
class Doc:
    """One top-level JSON value found in the input.

    Attributes:
        line: 1-based line where the value starts (None for a whole-file document).
        value: the parsed value (None when ``error`` is set and nothing was salvaged).
        error: why the value (or its tail) could not be parsed, else None.
        raw: the value's text when it failed (for the rejection), else ``b""``.
        partial: True when ``value`` holds the elements salvaged before ``error``;
            ``salvaged`` is how many elements that is.
        layout: ``document`` | ``ndjson`` | ``concatenated``.
    """

    line: int | None
    value: Any
    error: str | None = None
    raw: bytes = b""
    partial: bool = False
    salvaged: int = 0
    layout: str = "document"


def _strip(data: bytes) -> bytes:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.strip()


def documents(data: bytes) -> Iterator[Doc]:
    """Yield the JSON values in ``data`` (see the module docstring for the rules). Never raises."""
    if not data.startswith(b"\xef\xbb\xbf"):
        try:  # the common case, without copying ``data`` to strip it (orjson skips whitespace)
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            yield Doc(None, value)
            return
    data = _strip(data)
    if not data:
        return
    try:
        yield Doc(None, orjson.loads(data))
        return
    except orjson.JSONDecodeError as exc:
        whole_error = str(exc)
    nl = data.find(b"\n")
    if nl > 0:
        try:
            orjson.loads(data[:nl])
            yield from _ndjson(data)
            return
        except orjson.JSONDecodeError:
            pass
    yield from _concatenated(data.decode("utf-8", errors="replace"), whole_error)


def _ndjson(data: bytes) -> Iterator[Doc]:
    for i, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            yield Doc(i, orjson.loads(line), layout="ndjson")
        except orjson.JSONDecodeError as exc:
            yield Doc(i, None, f"malformed JSON: {exc}", line, layout="ndjson")


def _concatenated(text: str, whole_error: str) -> Iterator[Doc]:
    pos, line, n = 0, 1, len(text)
    while True:
        start = _WS.match(text, pos).end()  # type: ignore[union-attr]
        line += text.count("\n", pos, start)
        if start >= n:
            return
        try:
            value, end = _DECODER.raw_decode(text, start)
            yield Doc(line, value, layout="concatenated")
        except json.JSONDecodeError as exc:
            m = _RESYNC.search(text, exc.pos if exc.pos > start else start + 1)
            end = m.start() + 1 if m else n
            chunk = text[start:end]
            salvaged = _salvage(chunk)
            reason = f"malformed JSON: {exc.msg} at line {line + chunk.count(chr(10), 0, exc.pos - start)}"
            if start == 0 and end == n:
                reason = f"malformed JSON: {whole_error}"
            if salvaged is not None:
                value, count, tail = salvaged
                yield Doc(line, value, reason, tail.encode(), partial=True, salvaged=count,
                          layout="concatenated")
            else:
                yield Doc(line, None, reason, chunk.encode(), layout="concatenated")
        line += text.count("\n", start, end)
        pos = end


def _salvage(chunk: str) -> tuple[Any, int, str] | None:
    """Recover the complete leading elements of ``[…`` or ``{"key": […``; None if not that shape."""
    i = _WS.match(chunk, 0).end()  # type: ignore[union-attr]
    key = None
    if chunk.startswith("{", i):
        m = re.compile(r'\{\s*"((?:[^"\\]|\\.)*)"\s*:\s*\[').match(chunk, i)
        if not m:
            return None
        key, i = json.loads(f'"{m.group(1)}"'), m.end()
    elif chunk.startswith("[", i):
        i += 1
    else:
        return None
    items: list[Any] = []
    while True:
        i = _WS.match(chunk, i).end()  # type: ignore[union-attr]
        try:
            item, j = _DECODER.raw_decode(chunk, i)
        except json.JSONDecodeError:
            break
        items.append(item)
        j = _WS.match(chunk, j).end()  # type: ignore[union-attr]
        if not chunk.startswith(",", j):
            i = j
            break
        i = j + 1
    if not items:
        return None
    return ({key: items} if key is not None else items), len(items), chunk[i:]
