"""Test input for rollups: raw metric and CloudTrail rows written with Lake.write_partition in
the exact raw schemas (independent of the loader)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from pipeline.lake import layout
from pipeline.schemas import CLOUDTRAIL, METRICS

T0 = datetime(2026, 11, 5, tzinfo=UTC)


def sid(ns: str, metric: str, dims: dict[str, str], unit: str = "None") -> str:
    key = "\x1f".join((ns, metric, json.dumps(dims, sort_keys=True, separators=(",", ":")), unit))
    return hashlib.md5(key.encode()).hexdigest()[:16]


def point(ts: datetime, value: float | None = None, *, ns: str = "App", metric: str = "Latency",
          dims: dict[str, str] | None = None, unit: str = "Milliseconds",
          stats: tuple[float, float, float, float] | None = None,
          values: list[float] | None = None, counts: list[float] | None = None) -> dict[str, Any]:
    """One raw row: a single value, a statistic set (count, sum, min, max) or values/counts."""
    dims = dims if dims is not None else {"Host": "a"}
    if values is not None:
        cs = counts if counts is not None else [1.0] * len(values)
        stats = (sum(cs), sum(v * c for v, c in zip(values, cs)), min(values), max(values))
    elif stats is None:
        assert value is not None
        stats = (1.0, value, value, value)
    n, s, lo, hi = stats
    return {
        "namespace": ns, "metric_name": metric,
        "dimensions": json.dumps(dims, sort_keys=True, separators=(",", ":")),
        "timestamp": ts, "unit": unit, "storage_resolution": 60,
        "sample_count": n, "sum": s, "min": lo, "max": hi,
        "values": values, "counts": counts, "account_id": "111122223333", "region": "us-east-1",
        "metric_stream_name": None, "_wl_series_id": sid(ns, metric, dims, unit),
        "_wl_origin": "test", "_wl_ingest_time": ts,
    }


def write_rows(lake, table_name: str, rows: list[dict[str, Any]], schema: pa.Schema,
               time_col: str) -> int:
    by_part: dict[tuple, list] = defaultdict(list)
    for r in rows:
        by_part[tuple(layout.time_partitions(table_name, r[time_col]).items())].append(r)
    for part, rs in by_part.items():
        lake.write_partition(table_name, dict(part), pa.Table.from_pylist(rs, schema=schema))
    return len(rows)


def write_metrics(lake, rows: list[dict[str, Any]]) -> int:
    return write_rows(lake, "metrics", rows, METRICS, "timestamp")


def event(ts: datetime, source: str, name: str, error: str | None = None, i: int = 0) -> dict:
    return {"eventVersion": "1.08", "eventTime": ts, "eventSource": source, "eventName": name,
            "awsRegion": "us-east-1", "errorCode": error, "eventID": f"ev-{i}",
            "eventType": "AwsApiCall", "recipientAccountId": "111122223333"}


def write_cloudtrail(lake, rows: list[dict[str, Any]]) -> int:
    return write_rows(lake, "cloudtrail", rows, CLOUDTRAIL, "eventTime")
