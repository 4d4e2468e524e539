"""Seeded synthetic Kinesis Data Streams records, as ``aws kinesis get-records`` prints them.

A stream carries a mix of payloads, as real shared streams do: application clickstream JSON
(generic records), CloudTrail events forwarded by EventBridge, CloudWatch Logs subscription
payloads (gzip) and Metric Streams lines. ``Data`` is base64 in the JSON output. Sequence numbers
grow with arrival time per shard; partition keys map to shards by MD5 as Kinesis does.

Output: ``get-records-<shard>-<NNNN>.json`` pages of at most ``page`` records, each
``{"Records": […], "NextShardIterator": …, "MillisBehindLatest": 0}``.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.synthetic.account import ACCOUNT_ID, HOME_REGION
from pipeline.synthetic.cloudtrail import Result
from pipeline.synthetic.logs import gzip_payload, payloads
from pipeline.timeutil import epoch_ms, iso, to_utc

STREAM = "clickstream"
SHARDS = 2
PAGES = ("/", "/products", "/cart", "/checkout", "/search")


@dataclass
class KinesisRecord:
    shard: str
    sequence: str
    key: str
    arrival: datetime
    data: bytes
    kind: str

    def cli(self) -> dict[str, Any]:
        """The record as ``aws kinesis get-records`` (CLI v2) prints it."""
        return {"SequenceNumber": self.sequence,
                "ApproximateArrivalTimestamp": self.arrival.isoformat(timespec="milliseconds"),
                "Data": base64.b64encode(self.data).decode(), "PartitionKey": self.key}


def shard_of(key: str, shards: int = SHARDS) -> str:
    """Kinesis routing: MD5 of the partition key as a 128-bit integer, even hash-key ranges."""
    h = int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest(), "big")
    return f"shardId-{h * shards >> 128:012d}"


def _payload(rng: random.Random, t: datetime, n: int, logs: Iterator[dict[str, Any]]) -> tuple[str, bytes, str]:
    r = rng.random()
    if r < 0.06:
        ev = {"version": "0", "id": f"{rng.getrandbits(128):032x}", "detail-type": "AWS API Call via CloudTrail",
              "source": "aws.s3", "account": ACCOUNT_ID, "time": iso(t), "region": HOME_REGION, "resources": [],
              "detail": {"eventVersion": "1.11", "userIdentity": {"type": "AssumedRole", "accountId": ACCOUNT_ID},
                         "eventTime": iso(t), "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
                         "awsRegion": HOME_REGION, "sourceIPAddress": "10.0.12.31",
                         "requestParameters": {"bucketName": f"orders-data-{ACCOUNT_ID}"},
                         "eventID": f"{rng.getrandbits(128):032x}", "eventType": "AwsApiCall",
                         "readOnly": False, "recipientAccountId": ACCOUNT_ID}}
        return "cloudtrail", orjson.dumps(ev), "eventbridge"
    if r < 0.10:
        p = next(logs, None)
        if p is not None:
            return "logs", gzip_payload(p), p["logStream"] or "control"
    if r < 0.14:
        line = {"metric_stream_name": "watchlake-metric-stream", "account_id": ACCOUNT_ID, "region": HOME_REGION,
                "namespace": "Clickstream", "metric_name": "PageViews", "dimensions": {"Site": "shop"},
                "timestamp": epoch_ms(t.replace(second=0, microsecond=0)),
                "value": {"max": 1.0, "min": 1.0, "sum": float(n), "count": float(n)}, "unit": "Count"}
        return "metrics", orjson.dumps(line) + b"\n", "metric-stream"
    user = f"u-{rng.randrange(5000):05d}"
    click = {"type": "page_view", "user": user, "page": rng.choice(PAGES), "ts": iso(t),
             "session": f"{rng.getrandbits(64):016x}", "ms_on_page": rng.randrange(200, 60_000)}
    return "clickstream", orjson.dumps(click), user


def records(seed: int, start: datetime, duration_s: int, rate: float = 0.2) -> Iterator[KinesisRecord]:
    """Records in arrival order (``rate`` records per second on average)."""
    start = to_utc(start)
    rng = random.Random(f"{seed}:records")
    logs = payloads(seed, start, duration_s, rate=0.05)
    seq = {f"shardId-{i:012d}": 49650000000000000000000000000000000000000000000000000000 + i * 10**30
           for i in range(SHARDS)}
    t, end = start, start + timedelta(seconds=duration_s)
    n = 0
    while True:
        t += timedelta(seconds=rng.expovariate(rate))
        if t >= end:
            return
        t = t.replace(microsecond=t.microsecond // 1000 * 1000)
        n += 1
        kind, data, key = _payload(rng, t, n, logs)
        shard = shard_of(key)
        seq[shard] += rng.randrange(1, 10**6) * 10**8
        yield KinesisRecord(shard, str(seq[shard]), key, t, data, kind)


def generate(out: Path, *, seed: int, start: datetime, duration_s: int, rate: float = 0.2, page: int = 500,
             progress: Callable[[int], None] | None = None) -> Result:
    """Write get-records pages under ``out``; labels count the payload kinds."""
    result = Result()
    out.mkdir(parents=True, exist_ok=True)
    pages: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    numbers: dict[str, int] = {}

    def flush(shard: str) -> None:
        numbers[shard] = numbers.get(shard, 0) + 1
        path = out / f"get-records-{shard}-{numbers[shard]:04d}.json"
        body = {"Records": pages.pop(shard), "NextShardIterator": f"AAAAAAAAAAH{seed:08d}{numbers[shard]:06d}",
                "MillisBehindLatest": 0}
        data = orjson.dumps(body, option=orjson.OPT_INDENT_2)
        path.write_bytes(data)
        result.files += 1
        result.bytes += len(data)
        result.paths.append(path)

    for rec in records(seed, start, duration_s, rate):
        pages.setdefault(rec.shard, []).append(rec.cli())
        counts[rec.kind] = counts.get(rec.kind, 0) + 1
        result.events += 1
        if progress is not None:
            progress(1)
        if len(pages[rec.shard]) >= page:
            flush(rec.shard)
    for shard in sorted(pages):
        flush(shard)
    result.labels = [{"stream": STREAM, "payload_kind": k, "records": v} for k, v in sorted(counts.items())]
    return result
