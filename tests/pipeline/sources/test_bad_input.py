"""Bad CloudTrail input never crashes a run: each bad record is a rejection with origin and reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError, InputNotFoundError
from pipeline.sources import read
from pipeline.sources.cloudtrail import events_to_table

from .conftest import collect

GOOD = {"eventVersion": "1.09", "eventTime": "2026-11-01T00:00:00Z", "eventID": "good",
        "eventName": "GetObject", "eventSource": "s3.amazonaws.com",
        "userIdentity": {"type": "IAMUser", "userName": "dana"}}


def _ev(**kw: Any) -> dict[str, Any]:
    e = dict(GOOD)
    for k, v in kw.items():
        if v is ...:
            e.pop(k)
        else:
            e[k] = v
    return e


@pytest.mark.parametrize(("event", "field", "words"), [
    (_ev(eventTime=...), "eventTime", "missing required field"),
    (_ev(eventTime=None), "eventTime", "missing required field"),
    (_ev(eventTime="yesterday"), "eventTime", "not an ISO 8601 time"),
    (_ev(eventTime={"t": 1}), "eventTime", "expected a timestamp"),
    (_ev(eventID=...), "eventID", "missing required field"),
    (_ev(userAgent={"browser": "x"}), "userAgent", "expected a string, got an object"),
    (_ev(userIdentity="root"), "userIdentity", "expected an object, got a string"),
    (_ev(userIdentity={"type": ["IAMUser"]}), "userIdentity.type", "expected a string, got an array"),
    (_ev(readOnly="maybe"), "readOnly", "expected a boolean"),
    (_ev(tlsDetails="TLSv1.2"), "tlsDetails", "expected an object"),
    ("just a string", None, "not a JSON object"),
    ({"hello": "world"}, "eventTime", "not a CloudTrail event"),
])
def test_bad_record_becomes_a_rejection(event: Any, field: str | None, words: str) -> None:
    table, rej = events_to_table([GOOD, event, {**GOOD, "eventID": "good2"}], "f.json")
    assert table.column("eventID").to_pylist() == ["good", "good2"]
    assert len(rej) == 1
    r = rej[0]
    assert (r.source, r.origin, r.line, r.field) == ("cloudtrail", "f.json", 1, field)
    assert words in r.reason
    assert r.raw and json.loads(r.raw) == event
    assert r.message().startswith("f.json:1:")


def test_lenient_types_are_kept_losslessly() -> None:
    ev = _ev(readOnly="true", managementEvent="FALSE", sessionCredentialFromConsole=True,
             recipientAccountId=111122223333, requestParameters="plain text",
             responseElements=[1, 2], eventTime=1793527200)
    table, rej = events_to_table([ev], "f")
    assert not rej
    r = table.to_pylist()[0]
    assert r["readOnly"] is True and r["managementEvent"] is False
    assert r["sessionCredentialFromConsole"] == "true" and r["recipientAccountId"] == "111122223333"
    assert json.loads(r["requestParameters"]) == "plain text" and r["responseElements"] == "[1,2]"
    assert r["eventTime"].isoformat() == "2026-11-01T10:00:00+00:00"


def test_field_object_in_one_event_and_string_in_another() -> None:
    evs = [_ev(eventID="a", requestParameters={"bucketName": "b"}, additionalEventData="x"),
           _ev(eventID="b", requestParameters="bucket=b", additionalEventData={"x": 1})]
    table, rej = events_to_table(evs, "f")
    assert not rej
    assert [json.loads(v) for v in table.column("requestParameters").to_pylist()] == [
        {"bucketName": "b"}, "bucket=b"]


def test_malformed_ndjson_line_is_rejected_with_its_line(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(GOOD) + "\n{\"eventID\": oops}\n\n" + json.dumps({**GOOD, "eventID": "g2"}) + "\n")
    rows, rej, _ = collect(read("cloudtrail", p))
    assert [r["eventID"] for r in rows] == ["good", "g2"]
    assert len(rej) == 1 and rej[0].line == 2 and "malformed JSON" in rej[0].reason
    assert rej[0].raw == b'{"eventID": oops}'


def test_truncated_gzip_keeps_complete_records(tmp_path: Path) -> None:
    evs = [{**GOOD, "eventID": f"e{i}", "requestParameters": {"pad": "x" * 200}} for i in range(50)]
    full = gzip.compress(json.dumps({"Records": evs}).encode())
    p = tmp_path / "cut.json.gz"
    p.write_bytes(full[: len(full) * 2 // 3])
    batches = list(read("cloudtrail", p))
    rows, rej, _ = collect(batches)
    assert 0 < len(rows) < 50
    assert [r["eventID"] for r in rows] == [f"e{i}" for i in range(len(rows))]
    assert len(rej) == 1 and "truncated gzip stream" in rej[0].reason
    assert f"kept the {len(rows)} complete records" in rej[0].reason
    assert sum(b.records_in for b in batches) == len(rows) + 1


def test_garbage_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01not json at all")
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "number.json").write_text("42")
    rows, rej, _ = collect(read("cloudtrail", tmp_path))
    assert rows == []
    assert sorted(Path(r.origin).name for r in rej) == ["garbage.bin", "number.json"]


def test_ten_megabyte_record_is_kept(tmp_path: Path) -> None:
    big = _ev(eventID="big", requestParameters={"policy": "p" * (10 * 1024 * 1024)})
    p = tmp_path / "big.json.gz"
    p.write_bytes(gzip.compress(json.dumps({"Records": [GOOD, big]}).encode()))
    rows, rej, _ = collect(read("cloudtrail", p))
    assert not rej and len(rows) == 2
    assert len(json.loads(rows[1]["requestParameters"])["policy"]) == 10 * 1024 * 1024


def test_rejected_raw_bytes_are_truncated_to_one_mib() -> None:
    ev = _ev(eventTime=..., requestParameters={"p": "x" * (3 << 20)})
    _, rej = events_to_table([ev], "f")
    assert len(rej) == 1 and len(rej[0].raw) == 1 << 20


def test_unknown_kind_and_missing_location(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown source kind"):
        read("vpcflow", tmp_path)
    with pytest.raises(InputNotFoundError):
        list(read("cloudtrail", tmp_path / "nope"))
    with pytest.raises(InputNotFoundError, match="glob matched no files"):
        list(read("cloudtrail", str(tmp_path / "*.json")))
