"""A small, deterministic fixture lake written in the exact raw schemas.

The generated inputs are returned as pyarrow tables so tests compute their expected numbers
independently (with polars over these tables), never through ``dashboards``' own queries.
Hostile strings (HTML, a script tag, markdown) are planted in one event to prove that the
dashboards show data literally.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute below

from pipeline.lake import Lake, layout
from pipeline.schemas import CLOUDTRAIL, LOGS, METRICS, RECORDS
from pipeline.sources.cloudwatch import series_id

START = datetime(2026, 11, 8, 0, 0, tzinfo=UTC)
HOURS = 48
ACCOUNT = "111122223333"
XSS_AGENT = "<script>alert('xss')</script>"
XSS_PARAMS = '{"bucketName": "**not bold** <b>x</b>", "key": "# heading"}'
XSS_USER = "<b>mallory</b>"
PRINCIPALS = [
    {"type": "IAMUser", "userName": "alice", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
     "principalId": "AIDAALICE", "accountId": ACCOUNT},
    {"type": "IAMUser", "userName": "bob", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
     "principalId": "AIDABOB", "accountId": ACCOUNT},
    {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci",
     "principalId": "AROADEPLOY:ci", "accountId": ACCOUNT,
     "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/deploy",
                                          "userName": "deploy"},
                        "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-08T00:00:00Z"}}},
    {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
]
APIS = [("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject"),
        ("iam.amazonaws.com", "ListUsers"), ("ec2.amazonaws.com", "DescribeInstances"),
        ("sts.amazonaws.com", "AssumeRole")]
IPS = ["198.51.100.7", "203.0.113.9", "192.0.2.44", "ec2.amazonaws.com"]
REGIONS = ["us-east-1", "eu-west-1"]


@dataclass
class FixtureLake:
    """The lake and the inputs written into it."""

    lake: Lake
    cloudtrail: pa.Table
    metrics: pa.Table
    logs: pa.Table
    records: pa.Table
    rejected: list[dict]
    xss_event_id: str
    findings: pa.Table | None
    anomalies: pa.Table | None
    insights: pa.Table | None


def cloudtrail_rows() -> list[dict]:
    rows = []
    for i in range(HOURS * 5):
        t = START + timedelta(minutes=12 * i, seconds=i % 60)
        ident = dict(PRINCIPALS[i % 4])
        src, name = APIS[i % 5]
        error = "AccessDenied" if i % 7 == 0 else ("ThrottlingException" if i % 11 == 0 else None)
        rows.append({
            "eventVersion": "1.09", "userIdentity": ident, "eventTime": t,
            "eventSource": src, "eventName": name, "awsRegion": REGIONS[i % 2],
            "sourceIPAddress": IPS[i % 4], "userAgent": "aws-cli/2.15.0",
            "errorCode": error, "errorMessage": "denied" if error else None,
            "requestParameters": json.dumps({"n": i}), "responseElements": None,
            "requestID": f"req-{i:04d}", "eventID": f"evt-{i:04d}", "eventType": "AwsApiCall",
            "managementEvent": True, "readOnly": name.startswith(("Get", "List", "Describe")),
            "recipientAccountId": ACCOUNT, "eventCategory": "Management",
            "_wl_origin": f"fixture.json:{i}", "_wl_ingest_time": datetime(2026, 11, 10, tzinfo=UTC),
        })
    xss = rows[-3]
    xss["userAgent"] = XSS_AGENT
    xss["requestParameters"] = XSS_PARAMS
    xss["userIdentity"] = {"type": "IAMUser", "userName": XSS_USER, "accountId": ACCOUNT}
    for j, minute in enumerate((20, 50)):  # changes to i-0bbb shortly before its alarm fires
        rows.append({**rows[1], "eventID": f"chg-{j}", "requestID": f"chg-req-{j}",
                     "eventTime": START + timedelta(hours=47, minutes=minute), "eventSource": "ec2.amazonaws.com",
                     "eventName": "ModifyInstanceAttribute", "readOnly": False, "errorCode": None,
                     "errorMessage": None, "userAgent": "aws-cli/2.15.0",
                     "requestParameters": json.dumps({"instanceId": "i-0bbb", "attribute": "instanceType"})})
    rows.sort(key=lambda r: r["eventTime"])
    return rows


def metric_rows() -> list[dict]:
    rows = []
    base = START + timedelta(hours=24)
    for inst, level in (("i-0aaa", 20.0), ("i-0bbb", 60.0)):
        dims = json.dumps({"InstanceId": inst}, sort_keys=True, separators=(",", ":"))
        for m in range(24 * 60):
            v = level + (m % 10)
            rows.append({"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "dimensions": dims,
                         "timestamp": base + timedelta(minutes=m), "unit": "Percent",
                         "storage_resolution": 60, "sample_count": 1.0, "sum": v, "min": v, "max": v,
                         "account_id": ACCOUNT, "region": "us-east-1",
                         "_wl_series_id": series_id("AWS/EC2", "CPUUtilization", {"InstanceId": inst}, "Percent"),
                         "_wl_origin": "fixture", "_wl_ingest_time": datetime(2026, 11, 10, tzinfo=UTC)})
    return rows


def _write(lake: Lake, table_name: str, schema: pa.Schema, rows: list[dict], time_col: str) -> pa.Table:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[tuple(layout.time_partitions(table_name, r[time_col]).items())].append(r)
    for key, part in sorted(groups.items()):
        values = dict(key)
        if table_name == "records":
            values = {"stream": "orders", **values}
        lake.write_partition(table_name, values, pa.Table.from_pylist(part, schema=schema))
    return pa.Table.from_pylist(rows, schema=schema)


def build(root: str, *, derived: bool = True) -> FixtureLake:
    """Write the fixture lake at ``root`` and return it with its inputs (``derived``: also
    rollups, alarms, findings, anomalies and insights)."""
    lake = Lake(root)
    rows = cloudtrail_rows()
    ct = _write(lake, "cloudtrail", CLOUDTRAIL, rows, "eventTime")
    mt = _write(lake, "metrics", METRICS, metric_rows(), "timestamp")
    t0 = START + timedelta(hours=40)
    log_rows = [{"owner": ACCOUNT, "logGroup": "/app/web", "logStream": "s1", "id": str(i),
                 "timestamp": t0 + timedelta(seconds=30 * i), "message": f"GET /{i} 200",
                 "ingestionTime": t0 + timedelta(seconds=30 * i + 1), "_wl_origin": "fixture",
                 "_wl_ingest_time": datetime(2026, 11, 10, tzinfo=UTC)} for i in range(50)]
    lg = _write(lake, "logs", LOGS, log_rows, "timestamp")
    rec_rows = [{"streamName": "orders", "shardId": "shardId-000000000000", "sequenceNumber": str(1000 + i),
                 "partitionKey": f"k{i % 3}", "approximateArrivalTimestamp": t0 + timedelta(minutes=i),
                 "data": b'{"order": %d}' % i, "_wl_origin": "fixture",
                 "_wl_ingest_time": datetime(2026, 11, 10, tzinfo=UTC)} for i in range(30)]
    rc = _write(lake, "records", RECORDS, rec_rows, "approximateArrivalTimestamp")
    rejected = [
        {"source": "cloudtrail", "origin": "bad.json:3", "line": 3, "field": "eventTime",
         "reason": "not a timestamp", "raw": "{\"eventTime\": \"yesterday\"}",
         "rejected_at": "2026-11-10T00:00:01Z"},
        {"source": "cloudtrail", "origin": "bad.json:5", "line": 5, "field": "eventTime",
         "reason": "not a timestamp", "raw": "{\"eventTime\": 12}", "rejected_at": "2026-11-10T00:00:02Z"},
        {"source": "cloudtrail", "origin": "bad.json:9", "line": 9, "field": None,
         "reason": "invalid JSON", "raw": "{oops", "rejected_at": "2026-11-10T00:00:03Z"},
        {"source": "metrics", "origin": "m.json:1", "line": 1, "field": "Value",
         "reason": "not a number", "raw": "{\"Value\": \"x\"}", "rejected_at": "2026-11-10T00:00:04Z"},
    ]
    by_source: dict[str, list[dict]] = defaultdict(list)
    for r in rejected:
        by_source[r["source"]].append(r)
    for source, items in by_source.items():
        folder = layout.partition_path("errors", {"source": source, "dt": "2026-11-10"})
        body = "".join(json.dumps({**r, "raw": base64.b64encode(r["raw"].encode()).decode()}) + "\n"
                       for r in items).encode()
        lake.write_bytes(f"{folder}/{layout.file_name('jsonl.gz')}", gzip.compress(body))
    extra = build_derived(lake, rows) if derived else {"findings": None, "anomalies": None, "insights": None}
    xss_id = next(r["eventID"] for r in rows if r["userAgent"] == XSS_AGENT)
    return FixtureLake(lake, ct, mt, lg, rc, rejected, xss_id, **extra)


ALARMS = [
    {"AlarmName": "cpu-high-bbb", "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
     "Dimensions": [{"Name": "InstanceId", "Value": "i-0bbb"}], "Statistic": "Average", "Period": 60,
     "EvaluationPeriods": 3, "DatapointsToAlarm": 3, "Threshold": 65.0,
     "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "missing"},
    {"AlarmName": "cpu-high-aaa", "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
     "Dimensions": [{"Name": "InstanceId", "Value": "i-0aaa"}], "Statistic": "Average", "Period": 60,
     "EvaluationPeriods": 3, "DatapointsToAlarm": 3, "Threshold": 50.0,
     "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "missing"},
    {"AlarmName": "any-cpu-high", "AlarmRule": 'ALARM("cpu-high-bbb") OR ALARM("cpu-high-aaa")'},
    {"AlarmName": "cpu-gap", "EvaluationPeriods": 1, "Threshold": 1000.0,  # metric math; never ALARM
     "ComparisonOperator": "GreaterThanThreshold",
     "Metrics": [{"Id": f"m{i}", "ReturnData": False, "MetricStat": {
         "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": f"i-0{i * 3}"}]},
         "Period": 60, "Stat": "Average"}} for i in ("b", "a")]
     + [{"Id": "gap", "Expression": "mb - ma", "Label": "bbb minus aaa"}]},
]


def build_derived(lake: Lake, ct_rows: list[dict]) -> dict:
    """Rollups (the real job), alarms replayed over the metric day (the real engine), and
    findings / anomalies / insights rows written in their tables' schemas."""
    from jobs.batch_rollup import rollup
    from pipeline.alarms.engine import Engine
    from pipeline.alarms.store import AlarmStore
    from pipeline.alarms.validate import parse_alarm
    from pipeline.anomaly.table import ANOMALIES
    from pipeline.config import load_settings
    from pipeline.detections.findings import FINDINGS

    rollup(lake, load_settings(env={}, overrides={"lake.root": lake.root}), "duckdb")
    store = AlarmStore(lake)
    store.put([parse_alarm(d) for d in ALARMS], at=START)
    store.save()
    eng = Engine(lake)
    eng.replay(START + timedelta(hours=24), START + timedelta(hours=47, minutes=59), record=True)
    eng.save()

    denied = [r for r in ct_rows if r["errorCode"] == "AccessDenied"]
    now = datetime(2026, 11, 10, tzinfo=UTC)
    findings = []
    for i, (rule, level, events) in enumerate([
            ("access-denied-burst", "high", denied[-5:]), ("access-denied-burst", "high", denied[:3]),
            ("assume-role-by-service", "medium", [r for r in ct_rows if r["eventName"] == "AssumeRole"][-2:]),
            ("listusers-recon", "low", [r for r in ct_rows if r["eventName"] == "ListUsers"][-1:])]):
        first, last = events[0], events[-1]
        findings.append({
            "finding_id": f"f{i}", "rule_id": rule, "rule_kind": "rate", "title": rule.replace("-", " "),
            "level": level, "mitre": ["T1087"], "time": first["eventTime"], "last_time": last["eventTime"],
            "principal": first["userIdentity"].get("arn"), "source_ip": first["sourceIPAddress"],
            "access_key": None, "event_ids": [e["eventID"] for e in events], "event_count": len(events),
            "dedup_key": "principal", "dedup_window_s": 3600, "window_start": first["eventTime"],
            "window_end": first["eventTime"] + timedelta(hours=1), "threshold": 1, "condition": "",
            "_wl_detected_at": now, "_wl_engine": "duckdb"})
    ft = pa.Table.from_pylist(findings, schema=FINDINGS)
    for day in sorted({f["time"].strftime("%Y-%m-%d") for f in findings}):
        lake.write_partition("findings", {"dt": day},
                             ft.filter(pa.compute.equal(pa.compute.strftime(ft["time"], "%Y-%m-%d"), day)))

    t0 = START + timedelta(hours=24)
    anomalies = []
    for m in range(0, 24 * 60, 5):
        v = 60.0 + (m % 10) + (40.0 if m in (600, 605) else 0.0)
        hit = m in (600, 605)
        anomalies.append({
            "series_id": "AWS/EC2|CPUUtilization|{\"InstanceId\":\"i-0bbb\"}|Percent|Average",
            "namespace": "AWS/EC2", "metric_name": "CPUUtilization",
            "dimensions": '{"InstanceId":"i-0bbb"}', "unit": "Percent", "stat": "Average", "period": 300,
            "timestamp": t0 + timedelta(minutes=m), "value": v, "score": 0.99 if hit else 0.1,
            "expected": 64.5, "lower": 58.0, "upper": 71.0, "is_anomaly": hit, "detector": "multiview"})
    at = pa.Table.from_pylist(anomalies, schema=ANOMALIES)
    lake.write_partition("anomalies", {"dt": t0.strftime("%Y-%m-%d")}, at)

    insight_rows = []
    for i, (kind, name) in enumerate([("ApiCallRateInsight", "ListUsers"), ("ApiErrorRateInsight", "GetObject")]):
        for state in ("Start", "End"):
            t = START + timedelta(hours=30 + i * 5, minutes=0 if state == "Start" else 45)
            insight_rows.append({
                "eventVersion": "1.08", "eventTime": t, "awsRegion": "us-east-1",
                "eventID": f"ins-{i}-{state}", "eventType": "AwsCloudTrailInsight",
                "recipientAccountId": ACCOUNT, "eventCategory": "Insight", "sharedEventID": f"shared-{i}",
                # as CloudTrail writes Insights events: the API only inside insightDetails
                "insightDetails": json.dumps({"state": state, "eventName": name,
                                              "eventSource": "iam.amazonaws.com" if name == "ListUsers"
                                              else "s3.amazonaws.com",
                                              "insightType": kind,
                                              "insightContext": {"statistics": {
                                                  "baseline": {"average": 1.5}, "insight": {"average": 9.0}}}}),
                "_wl_origin": "fixture", "_wl_ingest_time": now})
    it = pa.Table.from_pylist(insight_rows, schema=CLOUDTRAIL)
    lake.write_partition("insights", {"dt": "2026-11-09"}, it)
    return {"findings": ft, "anomalies": at, "insights": it}
