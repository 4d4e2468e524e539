"""Damaged and hostile input: every line or element is loaded or rejected on its own, nothing
stops a read, and the rule is the same on every parsing path."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.sources import Limits, read

from .conftest import collect


def ev(i: int, **kw: Any) -> dict[str, Any]:
    return {"eventVersion": "1.09", "eventTime": "2026-11-01T00:00:00Z", "eventID": f"e{i}",
            "eventName": "GetObject", "eventSource": "s3.amazonaws.com",
            "userIdentity": {"type": "IAMUser", "accessKeyId": f"AKIA{i}"}, **kw}


def lines(n: int) -> list[bytes]:
    return [json.dumps(ev(i)).encode() for i in range(n)]


def deep(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize("bad_line", [0, 3])
def test_truncated_ndjson_line_never_swallows_the_next(tmp_path: Path, bad_line: int) -> None:
    ls = lines(8)
    cut = ls[bad_line]
    ls[bad_line] = cut[: cut.index(b'"accessKeyId":') + len(b'"accessKeyId":')]
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"\n".join(ls) + b"\n")
    rows, rej, _ = collect(read("cloudtrail", p))
    assert sorted(r["eventID"] for r in rows) == sorted(f"e{i}" for i in range(8) if i != bad_line)
    assert [(r.line, r.raw) for r in rej] == [(bad_line + 1, ls[bad_line])]


def test_invalid_utf8_is_rejected_with_its_bytes_on_every_path(tmp_path: Path) -> None:
    ls = lines(4)
    broken = ls[1].replace(b"GetObject", b"Get\xffObject")
    ndjson = tmp_path / "a.jsonl"  # NDJSON whose first line is bad: the fallback path
    ndjson.write_bytes(b"\n".join([broken, ls[0], ls[2]]))
    pretty = tmp_path / "b.json"  # concatenated pretty-printed events
    pretty.write_bytes(b"\n".join(json.dumps(json.loads(x.decode("latin-1")), indent=1, ensure_ascii=False)
                                  .encode().replace(b"Get\xc3\xbfObject", b"Get\xffObject") for x in [ls[3], broken]))
    whole = tmp_path / "c.json"  # one Records document: the whole-document path
    whole.write_bytes(b'{"Records": [' + ls[0] + b", " + broken + b"]}")
    for path, loaded in ((ndjson, {"e0", "e2"}), (pretty, {"e3"}), (whole, {"e0"})):
        rows, rej, _ = collect(read("cloudtrail", path))
        assert {r["eventID"] for r in rows} == loaded, path.name
        assert len(rej) == 1 and "UTF-8" in rej[0].reason, (path.name, rej)
        assert b"Get\xffObject" in rej[0].raw
        assert not any("\ufffd" in json.dumps(r, default=str) for r in rows)


def test_lone_surrogate_escape_is_one_rejection(tmp_path: Path) -> None:
    ls = lines(3)
    bad = ls[1].replace(b"GetObject", b"Get\\ud800Object")
    p = tmp_path / "s.jsonl"
    p.write_bytes(b"\n".join([bad, ls[0], ls[2]]))
    q = tmp_path / "s.json"
    q.write_bytes(b'{"Records": [' + ls[0] + b", " + bad + b"]}")
    for path in (p, q):
        rows, rej, _ = collect(read("cloudtrail", path))
        assert {r["eventID"] for r in rows} == {"e0", "e2"} if path is p else {"e0"}
        assert len(rej) == 1 and "surrogate" in rej[0].reason and rej[0].raw == bad


@pytest.mark.parametrize("depth", [300, 2_000, 100_000])
def test_deep_nesting_rejects_one_event_of_a_records_file(tmp_path: Path, depth: int) -> None:
    bad = json.dumps(ev(1))[:-1] + ', "requestParameters": ' + deep(depth) + "}"
    body = '{"Records": [' + json.dumps(ev(0)) + ", " + bad + ", " + json.dumps(ev(2)) + "]}"
    p = tmp_path / "deep.json.gz"
    p.write_bytes(gzip.compress(body.encode()))
    rows, rej, _ = collect(read("cloudtrail", p))
    assert [r["eventID"] for r in rows] == ["e0", "e2"]
    assert len(rej) == 1 and "nested deeper than" in rej[0].reason and rej[0].line == 1
    # the event is kept as it came (compact when it was parsed first, else its own bytes)
    assert rej[0].raw.replace(b" ", b"") == bad.replace(" ", "").encode()


def test_deep_nesting_in_metrics_logs_and_records_never_stops_a_read(tmp_path: Path) -> None:
    p = tmp_path / "deep.jsonl"
    p.write_text(deep(5_000) + "\n" + json.dumps({"x": json.loads(deep(400))}) + "\n")
    for kind, opts in (("metrics", {"namespace": "N"}), ("logs", {}), ("records", {})):
        rows, rej, _ = collect(read(kind, p, **opts))
        assert rows == [] and len(rej) == 2, kind
        assert all(r.reason for r in rej)


def test_gzip_bomb_is_one_rejection_and_the_good_files_load(tmp_path: Path) -> None:
    limits = Limits(max_object_bytes=4 << 20)
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [ev(0)]}).encode()))
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(b"\0" * (64 << 20)))  # 64 MiB of zeros, 64 KiB stored
    (tmp_path / "c.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [ev(1)]}).encode()))
    (tmp_path / "d.json").write_bytes(b" " * (5 << 20) + json.dumps(ev(2)).encode())  # too big stored
    rows, rej, _ = collect(read("cloudtrail", tmp_path, limits=limits))
    assert [r["eventID"] for r in rows] == ["e0", "e1"]
    assert sorted(Path(r.origin).name for r in rej) == ["b.json.gz", "d.json"]
    assert all("loader.max_object_mib = 4 MiB" in r.reason for r in rej)


def test_oversized_record_names_the_limit(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(json.dumps(ev(0, requestParameters={"p": "x" * 5000})).encode() + b"\n"
                  + json.dumps(ev(1)).encode() + b"\n" + b"{oops\n")
    rows, rej, _ = collect(read("cloudtrail", p, limits=Limits(max_record_bytes=4096)))
    assert [r["eventID"] for r in rows] == ["e1"]
    assert [r.line for r in rej] == [1, 3] and "loader.max_record_kib = 4 KiB" in rej[0].reason
