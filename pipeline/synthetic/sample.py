"""The committed sample data set (``sample_data/``): what it holds and how it is regenerated.

``regenerate`` rewrites only the folders this module owns (:data:`OWNED`); other teams'
folders under ``sample_data/`` (``alarms/``, ``rules/`` …) and ``README.md`` are left alone.
Everything is derived from :data:`SEED`, so regenerating gives byte-identical files.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.synthetic import cloudtrail, logs, metrics, records
from pipeline.synthetic.scenarios import SCENARIOS
from pipeline.timeutil import epoch_ms, iso

SEED = 20261101
CLOUDTRAIL_START = datetime(2026, 11, 1, tzinfo=UTC)
CLOUDTRAIL_DAYS = 8
METRICS_START = datetime(2026, 11, 5, tzinfo=UTC)
METRICS_DAYS = 4
LOGS_START = datetime(2026, 11, 8, 10, tzinfo=UTC)
LOGS_SECONDS = 2 * 3600
RECORDS_START = datetime(2026, 11, 8, 10, tzinfo=UTC)
RECORDS_SECONDS = 3600
OWNED = ("cloudtrail", "metrics", "logs", "records", "labels")


@dataclass
class Summary:
    cloudtrail_events: int
    cloudtrail_files: int
    metric_datapoints: int
    log_events: int
    kinesis_records: int
    bytes: int


def _write_json(path: Path, value: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"
    path.write_bytes(data)
    return len(data)


def _log_extras(root: Path) -> tuple[int, int]:
    """The Lambda event, a raw payload and a filter-log-events export; returns (events, bytes)."""
    incident = (datetime(2026, 11, 8, 10, 30, tzinfo=UTC), datetime(2026, 11, 8, 10, 50, tzinfo=UTC))
    items = list(logs.payloads(SEED + 1, datetime(2026, 11, 8, 10, 30, tzinfo=UTC), 180, rate=0.1,
                               error_windows=(incident,)))
    data = [p for p in items if p["messageType"] == "DATA_MESSAGE"]
    size = _write_json(root / "lambda" / "awslogs-event.json",
                       {"awslogs": {"data": base64.b64encode(logs.gzip_payload(data[0])).decode()}})
    size += _write_json(root / "raw" / "data-message.json", data[1])
    events = [{"logStreamName": p["logStream"], "timestamp": e["timestamp"], "message": e["message"],
               "ingestionTime": e["timestamp"] + 412, "eventId": e["id"]} for p in data[2:] for e in p["logEvents"]]
    size += _write_json(root / "filter-log-events.json",
                        {"events": events, "searchedLogStreams": [], "NextToken": None})
    n = len(data[0]["logEvents"]) + len(data[1]["logEvents"]) + len(events)
    return n, size


def _lambda_kinesis_event(root: Path) -> tuple[int, int]:
    recs = list(records.records(SEED + 2, datetime(2026, 11, 8, 12, tzinfo=UTC), 300, rate=0.1))
    arn = f"arn:aws:kinesis:us-east-1:111122223333:stream/{records.STREAM}"
    event = {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r.key, "sequenceNumber": r.sequence,
                    "data": base64.b64encode(r.data).decode(),
                    "approximateArrivalTimestamp": epoch_ms(r.arrival) / 1000},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{r.shard}:{r.sequence}",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::111122223333:role/consumer",
        "awsRegion": "us-east-1", "eventSourceARN": arn} for r in recs]}
    return len(recs), _write_json(root / "lambda-kinesis-event.json", event)


def regenerate(root: Path) -> Summary:
    """Rewrite the owned folders of ``root`` from :data:`SEED`."""
    for name in OWNED:
        shutil.rmtree(root / name, ignore_errors=True)
    ct = cloudtrail.generate(root / "cloudtrail", seed=SEED, start=CLOUDTRAIL_START,
                             duration_s=CLOUDTRAIL_DAYS * 86400, scenarios=list(SCENARIOS), window_s=3600)
    mt = metrics.generate(root / "metrics", seed=SEED, start=METRICS_START, duration_s=METRICS_DAYS * 86400)
    incident = (datetime(2026, 11, 8, 10, 30, tzinfo=UTC), datetime(2026, 11, 8, 10, 50, tzinfo=UTC))
    lg = logs.generate(root / "logs" / "firehose", seed=SEED, start=LOGS_START, duration_s=LOGS_SECONDS,
                       rate=0.1, error_windows=(incident,))
    log_extra, log_bytes = _log_extras(root / "logs")
    rc = records.generate(root / "records", seed=SEED, start=RECORDS_START, duration_s=RECORDS_SECONDS)
    lambda_records, lambda_bytes = _lambda_kinesis_event(root / "records")
    labels = root / "labels"
    size = _write_json(labels / "cloudtrail_scenarios.json", ct.labels)
    size += _write_json(labels / "metric_anomalies.json", mt.labels)
    manifest = {
        "seed": SEED, "command": "watchlake sample-data regenerate",
        "cloudtrail": {"start": iso(CLOUDTRAIL_START),
                       "end": iso(CLOUDTRAIL_START + timedelta(days=CLOUDTRAIL_DAYS)),
                       "events": ct.events, "log_files": ct.files - 1, "digest_files": 1,
                       "attack_day": "2026-11-08", "scenarios": [lb["scenario"] for lb in ct.labels]},
        "metrics": {"start": iso(METRICS_START), "end": iso(METRICS_START + timedelta(days=METRICS_DAYS)),
                    "datapoints": mt.events, "files": mt.files, "series": len(metrics.SERIES),
                    "anomalies": sum(1 for lb in mt.labels if lb["kind"] != "gap")},
        "logs": {"firehose_log_events": lg.events, "other_log_events": log_extra},
        "records": {"get_records": rc.events, "lambda_event_records": lambda_records,
                    "payload_kinds": {lb["payload_kind"]: lb["records"] for lb in rc.labels}},
    }
    size += _write_json(labels / "manifest.json", manifest)
    return Summary(ct.events, ct.files, mt.events, lg.events + log_extra, rc.events + lambda_records,
                   ct.bytes + mt.bytes + lg.bytes + log_bytes + rc.bytes + lambda_bytes + size)
