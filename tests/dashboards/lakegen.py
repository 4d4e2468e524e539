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

from pipeline.lake import Lake, layout
from pipeline.schemas import CLOUDTRAIL, LOGS, METRICS, RECORDS

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
                         "_wl_series_id": f"AWS/EC2|CPUUtilization|{inst}",
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


def build(root: str) -> FixtureLake:
    """Write the fixture lake at ``root`` and return it with its inputs."""
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
    return FixtureLake(lake, ct, mt, lg, rc, rejected, rows[-3]["eventID"])
