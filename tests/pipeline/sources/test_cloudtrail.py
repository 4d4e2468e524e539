"""CloudTrail reader: real Stratus Red Team data, the S3 layout, and the table contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS
from pipeline.sources import read
from pipeline.sources.cloudtrail import events_to_table

from .conftest import collect, write_records


def test_every_stratus_file_reads_without_loss(stratus_dir: Path) -> None:
    files = sorted(stratus_dir.glob("*.json"))
    assert len(files) == 35
    for f in files:
        expected = json.loads(f.read_text())
        batches = list(read("cloudtrail", f))
        rows, rejections, _ = collect(batches)
        assert rejections == []
        assert len(rows) == len(expected), f.name
        assert [r["eventID"] for r in rows] == [e["eventID"] for e in expected]
        assert all(b.table.schema.equals(CLOUDTRAIL) for b in batches)


def test_stratus_folder_total_and_field_values(stratus_dir: Path, stratus_events: list[dict[str, Any]]) -> None:
    rows, rejections, _ = collect(read("cloudtrail", stratus_dir))
    assert len(rows) == len(stratus_events) == 310 and not rejections
    by_id = {r["eventID"]: r for r in rows}
    for e in stratus_events:
        r = by_id[e["eventID"]]
        # leading-zero IPs from the anonymised data are kept verbatim, not rejected
        assert r["sourceIPAddress"] == e["sourceIPAddress"]
        assert r["eventTime"].strftime("%Y-%m-%dT%H:%M:%SZ") == e["eventTime"]
        assert r["userIdentity"]["type"] == e["userIdentity"]["type"]
        assert r["userIdentity"]["arn"] == e["userIdentity"].get("arn")
        for name in CLOUDTRAIL_JSON_FIELDS:
            if e.get(name) is None:
                assert r[name] is None
            else:
                assert json.loads(r[name]) == e[name]
        assert r["readOnly"] is e["readOnly"] and r["managementEvent"] is e["managementEvent"]
        assert r["_wl_extra"] is None
    assert "035.249.253.232" in {r["sourceIPAddress"] for r in rows}


def test_web_identity_federation_data_kept_as_json_text(stratus_events: list[dict[str, Any]]) -> None:
    with_webid = [e for e in stratus_events
                  if "webIdFederationData" in e["userIdentity"].get("sessionContext", {})]
    assert with_webid
    table, rej = events_to_table(with_webid, "x.json")
    assert not rej
    for e, r in zip(with_webid, table.to_pylist()):
        sc = r["userIdentity"]["sessionContext"]
        assert json.loads(sc["webIdFederationData"]) == e["userIdentity"]["sessionContext"]["webIdFederationData"]
        attrs = e["userIdentity"]["sessionContext"]["attributes"]
        assert sc["attributes"]["mfaAuthenticated"] == attrs["mfaAuthenticated"]


def test_s3_layout_gzip_records_file(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    key = ("AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/"
           "111122223333_CloudTrail_us-east-1_20240731T1250Z_Mu0KsOhtH1ar15ZZ.json.gz")
    path = write_records(tmp_path / key, stratus_events[:40])
    rows, rejections, _ = collect(read("cloudtrail", tmp_path / "AWSLogs"))
    assert not rejections
    assert [r["eventID"] for r in rows] == [e["eventID"] for e in stratus_events[:40]]
    assert rows[7]["_wl_origin"] == f"{path}:7"
    assert rows[0]["_wl_ingest_time"] is None


def test_unknown_fields_are_kept_in_extra() -> None:
    ev = {"eventVersion": "1.11", "eventTime": "2026-11-01T00:00:00Z", "eventID": "e1",
          "eventName": "X", "eventSource": "x.amazonaws.com", "brandNewField": {"a": [1, 2]},
          "userIdentity": {"type": "IAMUser", "newSub": "s",
                           "sessionContext": {"attributes": {"mfaAuthenticated": "true", "z": 1}}},
          "tlsDetails": {"tlsVersion": "TLSv1.3", "keyExchange": "x25519"}}
    table, rej = events_to_table([ev], "f")
    assert not rej
    r = table.to_pylist()[0]
    assert json.loads(r["_wl_extra"]) == {
        "brandNewField": {"a": [1, 2]},
        "userIdentity": {"newSub": "s", "sessionContext": {"attributes": {"z": 1}}},
        "tlsDetails": {"keyExchange": "x25519"}}
    assert r["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
    assert r["tlsDetails"]["tlsVersion"] == "TLSv1.3"


def test_events_to_table_does_not_modify_input(stratus_events: list[dict[str, Any]]) -> None:
    before = json.dumps(stratus_events, sort_keys=True)
    events_to_table(stratus_events, "x")
    assert json.dumps(stratus_events, sort_keys=True) == before


def test_empty_input_gives_empty_table() -> None:
    table, rej = events_to_table([], "f")
    assert table.num_rows == 0 and table.schema.equals(CLOUDTRAIL) and rej == []


def test_event_time_with_milliseconds_and_offset() -> None:
    evs = [{"eventTime": "2026-11-01T10:00:00.250Z", "eventID": "a"},
           {"eventTime": "2026-11-01T12:00:00+02:00", "eventID": "b"}]
    table, rej = events_to_table(evs, "f")
    assert not rej
    ts = table.column("eventTime").cast(pa.int64()).to_pylist()
    assert ts == [1793527200250, 1793527200000]

