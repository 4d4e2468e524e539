"""CloudTrail layouts are recognised by content, whatever the file is called."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from pipeline.sources import read

from .conftest import collect


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["eventID"] for e in events]


def test_bare_array_ndjson_concatenated_and_records_agree(tmp_path: Path,
                                                          stratus_events: list[dict[str, Any]]) -> None:
    evs = stratus_events[:25]
    (tmp_path / "array.dat").write_text(json.dumps(evs))
    (tmp_path / "lines.txt").write_text("\n".join(json.dumps(e) for e in evs) + "\n")
    (tmp_path / "pretty.json").write_text("\n".join(json.dumps(e, indent=3) for e in evs))
    (tmp_path / "records.bin").write_bytes(gzip.compress(json.dumps({"Records": evs}).encode()))
    for name in ("array.dat", "lines.txt", "pretty.json", "records.bin"):
        rows, rej, _ = collect(read("cloudtrail", tmp_path / name))
        assert not rej, name
        assert [r["eventID"] for r in rows] == _ids(evs), name


def test_ndjson_origin_is_the_line_number(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text("\n".join(json.dumps(e) for e in stratus_events[:3]))
    rows, _, _ = collect(read("cloudtrail", p))
    assert [r["_wl_origin"] for r in rows] == [f"{p}:1", f"{p}:2", f"{p}:3"]


def test_pretty_printed_objects_origin_is_their_first_line(tmp_path: Path,
                                                           stratus_events: list[dict[str, Any]]) -> None:
    p = tmp_path / "x.json"
    first = json.dumps(stratus_events[0], indent=2)
    p.write_text(first + "\n" + json.dumps(stratus_events[1], indent=2))
    rows, _, _ = collect(read("cloudtrail", p))
    assert [r["_wl_origin"] for r in rows] == [f"{p}:1", f"{p}:{first.count(chr(10)) + 2}"]


def test_lookup_events_output(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    evs = stratus_events[:5]
    out = {"Events": [{"EventId": e["eventID"], "EventName": e["eventName"], "ReadOnly": "false",
                       "EventTime": e["eventTime"], "EventSource": e["eventSource"],
                       "Resources": [], "CloudTrailEvent": json.dumps(e)} for e in evs],
           "NextToken": "abc"}
    (tmp_path / "lookup.json").write_text(json.dumps(out, indent=4))
    rows, rej, _ = collect(read("cloudtrail", tmp_path / "lookup.json"))
    assert not rej and [r["eventID"] for r in rows] == _ids(evs)


def test_eventbridge_export(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    evs = stratus_events[:3]
    env = [{"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws." + e["eventSource"].split(".")[0], "detail": e} for e in evs]
    (tmp_path / "eb.json").write_text(json.dumps(env))
    rows, rej, _ = collect(read("cloudtrail", tmp_path / "eb.json"))
    assert not rej and [r["eventID"] for r in rows] == _ids(evs)


def test_digest_files_are_skipped_and_counted(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    digest = {"awsAccountId": "111122223333", "digestStartTime": "2026-11-01T00:00:00Z",
              "digestEndTime": "2026-11-01T01:00:00Z", "digestS3Bucket": "b", "digestS3Object": "o",
              "digestSignatureAlgorithm": "SHA256withRSA", "logFiles": []}
    d = tmp_path / "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01"
    d.mkdir(parents=True)
    (d / "111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T010000Z.json.gz").write_bytes(
        gzip.compress(json.dumps(digest).encode()))
    (tmp_path / "events.json").write_text(json.dumps({"Records": stratus_events[:2]}))
    rows, rej, skipped = collect(read("cloudtrail", tmp_path))
    assert len(rows) == 2 and not rej and skipped == {"digest_files": 1}


def test_insight_events_and_all_event_versions(tmp_path: Path) -> None:
    insight = {"eventVersion": "1.07", "eventTime": "2026-11-08T10:00:00Z",
               "awsRegion": "us-east-1", "eventID": "i-1", "eventType": "AwsCloudTrailInsight",
               "recipientAccountId": "111122223333", "sharedEventID": "s-1",
               "insightDetails": {"state": "Start", "eventSource": "ec2.amazonaws.com",
                                  "eventName": "RunInstances", "insightType": "ApiCallRateInsight",
                                  "insightContext": {"statistics": {"baseline": {"average": 0.01},
                                                                    "insight": {"average": 1.5}}}},
               "eventCategory": "Insight"}
    versions = ["1.0", "1.01", "1.02", "1.03", "1.04", "1.05", "1.06", "1.07", "1.08", "1.09",
                "1.10", "1.11"]
    evs = [{"eventVersion": v, "eventTime": "2026-11-01T00:00:00Z", "eventID": f"v{v}",
            "eventName": "DescribeTrails", "eventSource": "cloudtrail.amazonaws.com",
            "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}} for v in versions]
    (tmp_path / "f.json").write_text(json.dumps({"Records": [insight, *evs]}))
    rows, rej, _ = collect(read("cloudtrail", tmp_path / "f.json"))
    assert not rej
    assert [r["eventVersion"] for r in rows] == ["1.07", *versions]
    assert rows[0]["eventType"] == "AwsCloudTrailInsight"
    assert json.loads(rows[0]["insightDetails"])["insightType"] == "ApiCallRateInsight"


def test_glob_and_multiple_locations(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    for i in range(3):
        (tmp_path / f"part{i}.json").write_text(json.dumps(stratus_events[i * 2:(i + 1) * 2]))
    rows, _, _ = collect(read("cloudtrail", str(tmp_path / "part*.json")))
    assert len(rows) == 6
    rows, _, _ = collect(read("cloudtrail", [tmp_path / "part0.json", tmp_path / "part2.json"]))
    assert [r["eventID"] for r in rows] == _ids(stratus_events[0:2] + stratus_events[4:6])


def test_since_until_bound_the_date_folders(tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    base = tmp_path / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11"
    for day in ("01", "02", "03"):
        (base / day).mkdir(parents=True)
        (base / day / f"f{day}.json").write_text(json.dumps({"Records": [
            {**stratus_events[0], "eventID": f"d{day}"}]}))
    rows, _, _ = collect(read("cloudtrail", tmp_path, since="2026-11-02T05:00:00Z", until="2026-11-03T00:00:00Z"))
    assert [r["eventID"] for r in rows] == ["d02"]
    rows, _, _ = collect(read("cloudtrail", tmp_path, since="2026-11-02"))
    assert [r["eventID"] for r in rows] == ["d02", "d03"]
    rows, _, _ = collect(read("cloudtrail", tmp_path, until="2026-11-02T00:00:01Z"))
    assert [r["eventID"] for r in rows] == ["d01", "d02"]


def _trail_payload(events: list[dict[str, Any]], first_id: int = 0) -> dict[str, Any]:
    """A subscription payload from a trail's CloudWatch Logs group: one event per log event."""
    return {"messageType": "DATA_MESSAGE", "owner": "111122223333",
            "logGroup": "aws-cloudtrail-logs-111122223333-0f1e", "logStream": "111122223333_CloudTrail_us-east-1",
            "subscriptionFilters": ["to-firehose"],
            "logEvents": [{"id": str(36000000000000000000000000000000000000000000000000000000 + first_id + i),
                           "timestamp": 1793527200000 + i, "message": json.dumps(e)} for i, e in enumerate(events)]}


CONTROL = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
           "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1793527200000,
                                                     "message": "CWL CONTROL MESSAGE: Checking health of destination"}]}


def test_cloudtrail_through_cloudwatch_logs_every_transport(tmp_path: Path,
                                                            stratus_events: list[dict[str, Any]]) -> None:
    """A trail delivered to CloudWatch Logs, then by a subscription to Firehose (gzip members
    concatenated, a health check among them), to Lambda, or read back with filter-log-events."""
    evs = stratus_events[:7]
    first, second = _trail_payload(evs[:4]), _trail_payload(evs[4:], 4)
    firehose = b"".join(gzip.compress(json.dumps(p).encode()) for p in (first, CONTROL, second))
    (tmp_path / "firehose-1-2026-12-05-10-00-00-abcd").write_bytes(firehose)
    data = base64.b64encode(gzip.compress(json.dumps(first).encode())).decode()
    (tmp_path / "lambda.json").write_text(json.dumps({"awslogs": {"data": data}}))
    fle = {"events": [{"logStreamName": first["logStream"], "timestamp": e["timestamp"], "message": e["message"],
                       "ingestionTime": e["timestamp"] + 900, "eventId": e["id"]} for e in first["logEvents"]],
           "searchedLogStreams": []}
    (tmp_path / "filter.json").write_text(json.dumps(fle, indent=2))
    rows, rej, skipped = collect(read("cloudtrail", tmp_path / "firehose-1-2026-12-05-10-00-00-abcd"))
    assert not rej and skipped == {"control_messages": 1}
    assert [r["eventID"] for r in rows] == _ids(evs)
    origin = tmp_path / "firehose-1-2026-12-05-10-00-00-abcd"
    assert [r["_wl_origin"] for r in rows] == [f"{origin}:{i}" for i in range(7)]  # index among log events
    for name in ("lambda.json", "filter.json"):
        rows, rej, _ = collect(read("cloudtrail", tmp_path / name))
        assert not rej and [r["eventID"] for r in rows] == _ids(evs[:4]), name


def test_a_log_message_that_is_not_an_event_is_rejected_naming_it(tmp_path: Path,
                                                                  stratus_events: list[dict[str, Any]]) -> None:
    p = _trail_payload(stratus_events[:3])
    p["logEvents"][1]["message"] = "2026-12-05T10:00:00Z not json"
    p["logEvents"].append({"id": "9", "timestamp": 1793527200000})
    (tmp_path / "sub.json.gz").write_bytes(gzip.compress(json.dumps(p).encode()))
    rows, rej, _ = collect(read("cloudtrail", tmp_path / "sub.json.gz"))
    assert [r["eventID"] for r in rows] == [stratus_events[0]["eventID"], stratus_events[2]["eventID"]]
    assert [(r.line, r.field) for r in rej] == [(1, "message"), (3, "message")]
    assert "not a CloudTrail JSON event" in rej[0].reason and "without a string `message`" in rej[1].reason
    assert len(rows) + len(rej) == len(p["logEvents"])  # in = loaded + rejected


def test_kinesis_routes_a_trail_log_group_to_cloudtrail_and_other_log_data_to_logs(
        tmp_path: Path, stratus_events: list[dict[str, Any]]) -> None:
    trail = _trail_payload(stratus_events[:3])
    mixed = _trail_payload(stratus_events[3:5], 3)
    mixed["logEvents"][1]["message"] = "START RequestId: 42"  # not CloudTrail: the payload is log data
    recs = {"Records": [{"SequenceNumber": str(i), "ApproximateArrivalTimestamp": "2026-11-08T10:00:00Z",
                         "PartitionKey": "k", "Data": base64.b64encode(gzip.compress(json.dumps(p).encode())).decode()}
                        for i, p in enumerate((trail, mixed))]}
    (tmp_path / "get-records.json").write_text(json.dumps(recs))
    by_table: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, int] = {}
    for b in read("records", tmp_path / "get-records.json", stream_name="trail"):
        assert not b.rejections
        by_table.setdefault(b.table_name, []).extend(b.table.to_pylist())
        skipped.update(b.skipped)
    assert [r["eventID"] for r in by_table["cloudtrail"]] == _ids(stratus_events[:3])
    assert [r["message"] for r in by_table["logs"]] == [e["message"] for e in mixed["logEvents"]]
    assert skipped == {"routed_to_cloudtrail": 1, "routed_to_logs": 1} and not by_table["records"]
