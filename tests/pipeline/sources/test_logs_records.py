"""CloudWatch Logs and Kinesis readers: every transport of the payloads, routing and bad input."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from pipeline.schemas import LOGS, RECORDS
from pipeline.sources import read
from tests.conftest import SAMPLE_DATA

from .conftest import collect

PAYLOAD = {"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/aws/lambda/ingest",
           "logStream": "2026/11/08/[$LATEST]0123", "subscriptionFilters": ["to-firehose"],
           "logEvents": [{"id": "31953106606966983378809025079804211143289615424298221568",
                          "timestamp": 1793527200000, "message": "{\"level\":\"ERROR\",\"msg\":\"boom\"}"},
                         {"id": "31953106606966983378809025079804211143289615424298221569",
                          "timestamp": 1793527200500, "message": "second"}]}
CONTROL = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
           "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1793527200000,
                                                     "message": "CWL CONTROL MESSAGE: Checking health of destination"}]}


def _gz(v: Any) -> bytes:
    return gzip.compress(json.dumps(v).encode())


def test_logs_payload_transports_agree(tmp_path: Path) -> None:
    (tmp_path / "a.gz").write_bytes(_gz(PAYLOAD))
    (tmp_path / "b.txt").write_bytes(base64.b64encode(_gz(PAYLOAD)))
    (tmp_path / "c.json").write_text(json.dumps(PAYLOAD, indent=2))
    (tmp_path / "d.json").write_text(json.dumps({"awslogs": {"data": base64.b64encode(_gz(PAYLOAD)).decode()}}))
    (tmp_path / "e").write_bytes(_gz(CONTROL) + _gz(PAYLOAD))  # Firehose: gzip members back to back
    for name in ("a.gz", "b.txt", "c.json", "d.json", "e"):
        batches = list(read("logs", tmp_path / name))
        rows, rej, skipped = collect(batches)
        assert not rej, name
        assert [(r["logGroup"], r["message"]) for r in rows] == [
            ("/aws/lambda/ingest", '{"level":"ERROR","msg":"boom"}'), ("/aws/lambda/ingest", "second")], name
        assert rows[0]["timestamp"].isoformat() == "2026-11-01T10:00:00+00:00"
        assert skipped == ({"control_messages": 1} if name == "e" else {}), name
        assert all(b.table.schema.equals(LOGS) for b in batches)


def test_logs_sample_and_filter_log_events() -> None:
    manifest = json.loads((SAMPLE_DATA / "labels" / "manifest.json").read_text())
    rows, rej, skipped = collect(read("logs", SAMPLE_DATA / "logs" / "firehose"))
    assert (len(rows), len(rej), skipped) == (manifest["logs"]["firehose_log_events"], 0, {"control_messages": 1})
    assert len({(r["logGroup"], r["logStream"], r["id"]) for r in rows}) == len(rows)
    fle = SAMPLE_DATA / "logs" / "filter-log-events.json"
    expected = json.loads(fle.read_text())["events"]
    rows, rej, _ = collect(read("logs", fle, log_group="/aws/lambda/orders-api"))
    assert not rej and [r["id"] for r in rows] == [e["eventId"] for e in expected]
    assert rows[0]["ingestionTime"] is not None and rows[0]["logStream"] == expected[0]["logStreamName"]
    _, rej, _ = collect(read("logs", fle))
    assert len(rej) == 1 and rej[0].field == "log_group"


def test_bad_log_input(tmp_path: Path) -> None:
    bad = {**PAYLOAD, "logEvents": [PAYLOAD["logEvents"][0], {"timestamp": 1, "message": "no id"},
                                    {"id": "9", "timestamp": 1793527200000, "message": {"obj": 1}}]}
    (tmp_path / "x.json").write_text(json.dumps(bad))
    (tmp_path / "y.gz").write_bytes(_gz(PAYLOAD)[:40])
    (tmp_path / "z.json").write_text(json.dumps({"messageType": "SOMETHING_ELSE"}))
    rows, rej, _ = collect(read("logs", tmp_path))
    assert len(rows) == 1
    assert sorted((Path(r.origin).name, r.field) for r in rej) == [
        ("x.json", "id"), ("x.json", "message"), ("y.gz", None), ("z.json", "messageType")]


def _get_records(recs: list[tuple[str, bytes]], arrival: Any = "2026-11-08T10:00:00.123000+00:00") -> dict[str, Any]:
    return {"Records": [{"SequenceNumber": seq, "ApproximateArrivalTimestamp": arrival,
                         "Data": base64.b64encode(data).decode(), "PartitionKey": "pk"} for seq, data in recs],
            "NextShardIterator": "AAAA", "MillisBehindLatest": 0}


def test_kinesis_get_records_and_routing(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    ev = stratus_events[0]
    metric = {"metric_stream_name": "s", "account_id": "1", "region": "r", "namespace": "Shop", "metric_name": "m",
              "dimensions": {}, "timestamp": 1793527200000, "value": {"max": 2, "min": 1, "sum": 3, "count": 2},
              "unit": "Count"}
    recs = [("1", b'{"click": 1}'), ("2", json.dumps(ev).encode()), ("3", _gz(PAYLOAD)),
            ("4", (json.dumps(metric) + "\n").encode()), ("5", b"\x00binary\xff"),
            ("6", json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": stratus_events[1]}).encode())]
    p = tmp_path / "get-records-shardId-000000000003-0001.json"
    p.write_text(json.dumps(_get_records(recs)))
    batches = list(read("records", p, stream_name="orders"))
    by_table: dict[str, list[dict[str, Any]]] = {}
    for b in batches:
        by_table.setdefault(b.table_name, []).extend(b.table.to_pylist())
        assert not b.rejections
    assert [r["data"] for r in by_table["records"]] == [b'{"click": 1}', b"\x00binary\xff"]
    r0 = by_table["records"][0]
    assert (r0["streamName"], r0["shardId"], r0["sequenceNumber"]) == ("orders", "shardId-000000000003", "1")
    assert r0["approximateArrivalTimestamp"].isoformat() == "2026-11-08T10:00:00.123000+00:00"
    assert [r["eventID"] for r in by_table["cloudtrail"]] == [ev["eventID"], stratus_events[1]["eventID"]]
    assert [r["message"] for r in by_table["logs"]] == [e["message"] for e in PAYLOAD["logEvents"]]
    assert [(r["namespace"], r["sum"]) for r in by_table["metrics"]] == [("Shop", 3.0)]
    records_batch = next(b for b in batches if b.table_name == "records")
    assert records_batch.skipped == {"routed_to_cloudtrail": 2, "routed_to_logs": 1, "routed_to_metrics": 1}
    assert records_batch.table.schema.equals(RECORDS)


def test_kinesis_lambda_event_and_epoch_arrival(tmp_path: Path) -> None:
    event = {"Records": [{"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1",
                                      "sequenceNumber": "4959033827149025660855969253836157109592157598913",
                                      "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
                                      "approximateArrivalTimestamp": 1545084650.987},
                          "eventSource": "aws:kinesis", "eventVersion": "1.0",
                          "eventID": "shardId-000000000006:4959033827149025660855969253836157109592157598913",
                          "eventName": "aws:kinesis:record", "awsRegion": "us-east-2",
                          "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"}]}
    (tmp_path / "e.json").write_text(json.dumps(event))
    rows, rej, _ = collect(read("records", tmp_path / "e.json"))
    assert not rej and len(rows) == 1
    r = rows[0]
    assert (r["streamName"], r["shardId"], r["data"]) == ("lambda-stream", "shardId-000000000006",
                                                          b"Hello, this is a test.")
    assert r["approximateArrivalTimestamp"].isoformat() == "2018-12-17T22:10:50.987000+00:00"


def test_kinesis_sample_matches_manifest() -> None:
    manifest = json.loads((SAMPLE_DATA / "labels" / "manifest.json").read_text())["records"]
    routed: dict[str, int] = {}
    kept = 0
    for b in read("records", SAMPLE_DATA / "records"):
        assert not b.rejections
        if b.table_name == "records":
            kept += b.table.num_rows
            for k, v in b.skipped.items():
                routed[k] = routed.get(k, 0) + v
    kinds = manifest["payload_kinds"]
    assert kept + sum(routed.values()) == manifest["get_records"] + manifest["lambda_event_records"]
    assert routed["routed_to_cloudtrail"] >= kinds["cloudtrail"]  # plus any in the Lambda event
    assert kept >= kinds["clickstream"]


def test_bad_kinesis_records(tmp_path: Path) -> None:
    page = _get_records([("1", b"ok")])
    page["Records"] += [{"SequenceNumber": "2", "Data": "!!!not base64!!!", "PartitionKey": "p"},
                        {"Data": "b2s=", "PartitionKey": "p"}, "junk"]
    (tmp_path / "p.json").write_text(json.dumps(page))
    rows, rej, _ = collect(read("records", tmp_path / "p.json"))
    assert len(rows) == 1
    assert [(r.line, r.field) for r in rej] == [(1, "Data"), (2, "SequenceNumber"), (3, None)]
