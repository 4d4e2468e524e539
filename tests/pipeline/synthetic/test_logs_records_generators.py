"""Logs and Kinesis generators: what they write is what the readers read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pipeline.sources import read
from pipeline.synthetic import logs, records

START = datetime(2026, 11, 8, 10, tzinfo=UTC)


def test_logs_generator_round_trip(tmp_path: Path) -> None:
    res = logs.generate(tmp_path, seed=3, start=START, duration_s=3 * 3600, rate=0.05,
                        error_windows=((START, START.replace(hour=11)),))
    rows, controls, errors_by_hour = 0, 0, {10: 0, 12: 0}
    for b in read("logs", tmp_path):
        assert not b.rejections
        rows += b.table.num_rows
        controls += b.skipped.get("control_messages", 0)
        for t, m in zip(b.table.column("timestamp").to_pylist(), b.table.column("message").to_pylist()):
            if '"level":"ERROR"' in m and t.hour in errors_by_hour:
                errors_by_hour[t.hour] += 1
    assert rows == res.events > 0 and controls >= 1
    assert errors_by_hour[10] > 5 * max(1, errors_by_hour[12])  # the labelled error window


def test_records_generator_round_trip(tmp_path: Path) -> None:
    res = records.generate(tmp_path, seed=3, start=START, duration_s=1800, page=100)
    kinds = {lb["payload_kind"]: lb["records"] for lb in res.labels}
    kept, routed = 0, {}
    for b in read("records", tmp_path, stream_name="clickstream"):
        assert not b.rejections
        if b.table_name == "records":
            kept += b.table.num_rows
            for k, v in b.skipped.items():
                routed[k] = routed.get(k, 0) + v
    assert kept == kinds["clickstream"] and kept + sum(routed.values()) == res.events
    assert routed.get("routed_to_cloudtrail", 0) == kinds.get("cloudtrail", 0)
    page = json.loads(sorted(tmp_path.glob("get-records-*.json"))[0].read_text())
    assert set(page) == {"Records", "NextShardIterator", "MillisBehindLatest"}
    assert set(page["Records"][0]) == {"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey"}


def test_partition_keys_map_to_shards_by_md5() -> None:
    import hashlib

    for key in ("u-00001", "u-04135", "eventbridge"):
        h = int(hashlib.md5(key.encode()).hexdigest(), 16)
        assert records.shard_of(key) == f"shardId-{int(h >= 2**127):012d}"
