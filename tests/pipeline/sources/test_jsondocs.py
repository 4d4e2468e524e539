"""Layout recognition and per-value isolation in :mod:`pipeline.sources.jsondocs`."""

from __future__ import annotations

import json

from pipeline.sources.jsondocs import documents, scan
from pipeline.sources.limits import Limits


def test_truncated_pretty_printed_object_stops_at_the_next_one() -> None:
    a, b, c = ({"eventID": k, "n": {"deep": [1, 2]}} for k in "abc")
    pb, pc = json.dumps(b, indent=2)[:-12], json.dumps(c, indent=2)
    text = json.dumps(a, indent=2) + "\n" + pb + "\n" + pc + "\n"
    line_of = {x: text[: text.index(x)].count("\n") + 1 for x in (pb, pc)}
    docs = list(documents(text.encode()))
    assert [(d.line, d.value, d.error is not None) for d in docs] == [
        (1, a, False), (line_of[pb], None, True), (line_of[pc], c, False)]
    assert docs[1].raw.startswith(b'{\n  "eventID": "b"')


def test_bad_elements_of_an_array_keep_their_indices() -> None:
    items = [b'{"i": 0}', b'{"i": 1, "s": "\xff"}', b'{"i": 2}', b'{"i": 3, "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
             b'{"i": 4}']
    docs = list(documents(b"[\n" + b",\n".join(items) + b"\n]"))
    got = [(d.line, d.first, d.value, (d.error or "")[:28]) for d in docs]
    assert got == [(None, 0, [{"i": 0}], ""), (1, 0, None, "array element 1: invalid UTF"),
                   (None, 2, [{"i": 2}], ""), (3, 0, None, "array element 3: nested deep"),
                   (None, 4, [{"i": 4}], "")]


def test_scan_finds_the_end_of_any_depth_without_recursion() -> None:
    deep = b"[" * 100_000 + b'"]}"' + b"]" * 100_000
    assert scan(deep + b" tail", 0, 1024) == (len(deep), 100_000, None)
    assert scan(b'{"a": [1, 2}', 0, 1024)[2] == "unexpected '}'"
    assert scan(b'{"a": "x', 0, 1024)[2] == "unterminated string"


def test_ndjson_is_recognised_when_its_first_lines_are_damaged() -> None:
    lines = [b'{"eventID": "a", "accessKeyId":', b"not json", *(b'{"eventID": "%d"}' % i for i in range(8))]
    docs = list(documents(b"\r\n".join(lines)))
    assert [d.layout for d in docs] == ["ndjson"] * 10
    assert [d.line for d in docs if d.error] == [1, 2]
    assert [d.value["eventID"] for d in docs if d.value] == [str(i) for i in range(8)]


def test_record_and_depth_limits_name_their_settings() -> None:
    limits = Limits(max_record_bytes=2048, max_depth=8)
    docs = list(documents(b'{"a": 1}\n{"b": "' + b"x" * 3000 + b'"}\n', limits))
    assert [d.error for d in docs] == [None, "record of 3,009 bytes is larger than loader.max_record_kib = 2 KiB"]
    docs = list(documents(b'{"a": 1} {"b": {"c": [[[[[[[[1]]]]]]]]}} {"c": [[[[[[1]]]]]]}', limits))
    assert [(d.value, d.error) for d in docs] == [
        ({"a": 1}, None), (None, "nested deeper than loader.max_nesting_depth = 8 levels"),
        ({"c": [[[[[[1]]]]]]}, None)]
    # an array of records: each element is a record, judged on its own depth
    docs = list(documents(b'[[[[[[[[[[1]]]]]]]]], {"ok": 1}] {"x": 0}', limits))
    assert [(d.value, d.error) for d in docs] == [
        (None, "array element 0: nested deeper than loader.max_nesting_depth = 8 levels"),
        ([{"ok": 1}], None), ({"x": 0}, None)]
