"""Batches in the exact raw schemas, built by hand for loader tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from pipeline.schemas import CLOUDTRAIL, METRICS, RECORDS
from pipeline.sources.base import Batch, Rejection

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def ct_rows(n: int, *, start: int = 0, t0: datetime = T0, step: timedelta = timedelta(seconds=1),
            origin: str = "test.json.gz") -> list[dict]:
    return [{
        "eventVersion": "1.09", "eventTime": t0 + i * step, "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "awsRegion": "us-east-1", "eventID": f"ev-{i:08d}",
        "userIdentity": {"type": "IAMUser", "userName": f"u{i % 7}"},
        "requestParameters": '{"bucketName":"b"}', "_wl_origin": f"{origin}#{i}",
    } for i in range(start, start + n)]


def ct_batch(rows: list[dict], origin: str = "test.json.gz",
             rejections: list[Rejection] | None = None) -> Batch:
    return Batch("cloudtrail", pa.Table.from_pylist(rows, schema=CLOUDTRAIL), origin,
                 rejections or [], raw_bytes=100 * len(rows))


def metric_batch(points: list[tuple[str, datetime, float]], origin: str = "m.json") -> Batch:
    rows = [{"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "dimensions": f'{{"InstanceId":"{s}"}}',
             "timestamp": ts, "unit": "Percent", "storage_resolution": 60, "sample_count": 1.0,
             "sum": v, "min": v, "max": v, "_wl_series_id": s, "_wl_origin": origin}
            for s, ts, v in points]
    return Batch("metrics", pa.Table.from_pylist(rows, schema=METRICS), origin)


def record_batch(stream: str, shard: str, seqs: list[int], t0: datetime = T0) -> Batch:
    rows = [{"streamName": stream, "shardId": shard, "sequenceNumber": f"{s:056d}", "partitionKey": "k",
             "approximateArrivalTimestamp": t0 + timedelta(seconds=s), "data": f"rec {s}".encode(),
             "_wl_origin": f"stream:{stream}/{shard}"} for s in seqs]
    return Batch("records", pa.Table.from_pylist(rows, schema=RECORDS), f"stream:{stream}/{shard}")
