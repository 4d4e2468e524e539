"""Seeded synthetic CloudWatch Logs subscription payloads.

A Lambda function's log group (``/aws/lambda/orders-api``) with START / END / REPORT lines and
JSON application logs, shipped the way a subscription filter does: gzip-compressed
``DATA_MESSAGE`` payloads (one per log stream and minute), plus an occasional
``CONTROL_MESSAGE`` health check. Firehose concatenates payloads as they arrive, so each
hourly S3 object ``YYYY/MM/DD/HH/<stream>-1-…`` is a multi-member gzip of concatenated JSON
objects — what users find in S3 when no decompression processor is configured.

:func:`payloads` yields the payload dicts for other writers (Kinesis records, Lambda events).
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.synthetic.account import ACCOUNT_ID
from pipeline.synthetic.cloudtrail import Result
from pipeline.timeutil import epoch_ms, floor, from_epoch, to_utc

LOG_GROUP = "/aws/lambda/orders-api"
FIREHOSE = "watchlake-logs"
FILTER = "orders-api-to-firehose"


def _event_id(rng: random.Random, ms: int) -> str:
    return f"{ms:020d}{rng.getrandbits(112):036d}"[:56]


def _invocation(rng: random.Random, t: datetime, error: bool) -> list[tuple[int, str]]:
    req = f"{rng.getrandbits(128):032x}"
    req = f"{req[:8]}-{req[8:12]}-{req[12:16]}-{req[16:20]}-{req[20:]}"
    ms = epoch_ms(t)
    dur = rng.uniform(20, 160) * (8 if error else 1)
    lines = [(ms, f"START RequestId: {req} Version: $LATEST\n")]
    level, msg = ("ERROR", "upstream timeout calling payments") if error else ("INFO", "order stored")
    body = {"level": level, "msg": msg, "requestId": req, "orderId": f"o-{rng.randrange(10**7):07d}",
            "latencyMs": round(dur, 1)}
    lines.append((ms + int(dur / 2), orjson.dumps(body).decode() + "\n"))
    lines.append((ms + int(dur), f"END RequestId: {req}\n"))
    lines.append((ms + int(dur), f"REPORT RequestId: {req}\tDuration: {dur:.2f} ms\tBilled Duration: "
                                 f"{int(dur) + 1} ms\tMemory Size: 512 MB\tMax Memory Used: "
                                 f"{rng.randrange(90, 140)} MB\t\n"))
    return lines


def payloads(seed: int, start: datetime, duration_s: int, *, rate: float = 0.5,
             error_windows: tuple[tuple[datetime, datetime], ...] = ()) -> Iterator[dict[str, Any]]:
    """Subscription payloads in time order (``rate`` = invocations per second)."""
    start = floor(to_utc(start), 60)
    rng = random.Random(f"{seed}:logs")
    streams = [f"{start.strftime('%Y/%m/%d')}/[$LATEST]{rng.getrandbits(128):032x}" for _ in range(2)]
    for minute in range(duration_s // 60):
        t = start + timedelta(minutes=minute)
        if minute % 360 == 17:
            yield {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
                   "logStream": "", "subscriptionFilters": [],
                   "logEvents": [{"id": "", "timestamp": epoch_ms(t),
                                  "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}
        n = max(0, int(rng.gauss(rate * 60, (rate * 60) ** 0.5)))
        if not n:
            continue
        err_p = 0.25 if any(a <= t < b for a, b in error_windows) else 0.003
        lines: list[tuple[int, str]] = []
        for _ in range(n):
            lines.extend(_invocation(rng, t + timedelta(seconds=rng.random() * 60), rng.random() < err_p))
        lines.sort()
        stream = streams[minute % 2]
        yield {"messageType": "DATA_MESSAGE", "owner": ACCOUNT_ID, "logGroup": LOG_GROUP, "logStream": stream,
               "subscriptionFilters": [FILTER],
               "logEvents": [{"id": _event_id(rng, ms), "timestamp": ms, "message": msg} for ms, msg in lines]}


def gzip_payload(payload: dict[str, Any]) -> bytes:
    """The bytes a subscription delivers: gzip of the payload JSON (deterministic)."""
    return gzip.compress(orjson.dumps(payload), mtime=0)


def generate(out: Path, *, seed: int, start: datetime, duration_s: int, rate: float = 0.5,
             error_windows: tuple[tuple[datetime, datetime], ...] = (),
             progress: Callable[[int], None] | None = None) -> Result:
    """Write hourly Firehose objects of concatenated gzip payloads under ``out``."""
    result = Result()
    names = random.Random(f"{seed}:log-files")
    by_hour: dict[datetime, list[bytes]] = {}

    def flush(hour: datetime, members: list[bytes]) -> None:
        folder = out / hour.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        arrived = hour + timedelta(minutes=60, seconds=names.randrange(30, 200))
        path = folder / f"{FIREHOSE}-1-{arrived.strftime('%Y-%m-%d-%H-%M-%S')}-{names.getrandbits(128):032x}"
        data = b"".join(members)
        path.write_bytes(data)
        result.files += 1
        result.bytes += len(data)
        result.paths.append(path)

    for p in payloads(seed, start, duration_s, rate=rate, error_windows=error_windows):
        hour = floor(from_epoch(p["logEvents"][0]["timestamp"], "ms"), 3600)
        for h in [h for h in by_hour if h < hour]:
            flush(h, by_hour.pop(h))
        by_hour.setdefault(hour, []).append(gzip_payload(p))
        if p["messageType"] == "DATA_MESSAGE":
            result.events += len(p["logEvents"])
            if progress is not None:
                progress(len(p["logEvents"]))
    for h, members in sorted(by_hour.items()):
        flush(h, members)
    return result
