"""Seeded synthetic CloudWatch metrics, written as Metric Streams JSON (Firehose → S3).

Fourteen 1-minute series in namespaces a user recognises (AWS/EC2, AWS/Lambda, AWS/ApiGateway,
AWS/Kinesis, AWS/SQS), each with a trend, daily and weekly seasonality, noise and gaps of missing
data, plus labelled anomalies (spikes, level shifts, drifts). Each datapoint is a Metric Streams
statistic set ``{"max","min","sum","count"}``; count metrics follow AWS conventions (Lambda
``Invocations``: count = sum = invocations; ``Errors``: count = invocations, sum = errors; a
minute without invocations has no datapoint).

Output: ``YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<id>.gz`` — gzip NDJSON, one object per
datapoint, one object per hour, the Firehose default prefix. Series are generated a day at a
time, so memory does not grow with the duration.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from pipeline.sources.cloudwatch import series_id
from pipeline.synthetic.account import ACCOUNT_ID, HOME_REGION
from pipeline.synthetic.cloudtrail import Result
from pipeline.timeutil import epoch_ms, floor, iso, to_utc

STREAM = "watchlake-metric-stream"


@dataclass(frozen=True)
class Series:
    """One metric and its behaviour. ``shape``: gauge | count | errors | duration | latency."""

    namespace: str
    metric: str
    dims: tuple[tuple[str, str], ...]
    unit: str
    base: float
    daily: float = 0.3
    weekly: float = 0.1
    trend: float = 0.0          # relative change per day
    noise: float = 0.08         # log-normal sigma
    shape: str = "gauge"
    parent: int = -1            # for errors/duration/latency: the index of the request-count series
    cap: float = float("inf")

    @property
    def dimensions(self) -> dict[str, str]:
        return dict(self.dims)

    def sid(self) -> str:
        return series_id(self.namespace, self.metric, self.dimensions, self.unit)


SERIES: list[Series] = [
    Series("AWS/EC2", "CPUUtilization", (("InstanceId", "i-0a1b2c3d4e5f60718"),), "Percent", 38, 0.45, 0.15,
           0.01, 0.06, cap=100),
    Series("AWS/EC2", "CPUUtilization", (("InstanceId", "i-0b2c3d4e5f6071829"),), "Percent", 22, 0.3, 0.1,
           0.0, 0.1, cap=100),
    Series("AWS/EC2", "NetworkIn", (("InstanceId", "i-0a1b2c3d4e5f60718"),), "Bytes", 4.2e7, 0.5, 0.2, 0.01),
    Series("AWS/EC2", "NetworkIn", (("InstanceId", "i-0b2c3d4e5f6071829"),), "Bytes", 1.1e7, 0.35, 0.1),
    Series("AWS/Lambda", "Invocations", (("FunctionName", "orders-api"),), "Count", 180, 0.6, 0.25, 0.02, 0.05,
           "count"),
    Series("AWS/Lambda", "Errors", (("FunctionName", "orders-api"),), "Count", 0.004, 0, 0, 0, 0, "errors", 4),
    Series("AWS/Lambda", "Duration", (("FunctionName", "orders-api"),), "Milliseconds", 85, 0.1, 0, 0, 0.05,
           "duration", 4),
    Series("AWS/Lambda", "Invocations", (("FunctionName", "ingest"),), "Count", 40, 0.2, 0.05, 0.0, 0.1, "count"),
    Series("AWS/Lambda", "Duration", (("FunctionName", "ingest"),), "Milliseconds", 420, 0.05, 0, 0, 0.08,
           "duration", 7),
    Series("AWS/ApiGateway", "Count", (("ApiName", "orders"),), "Count", 210, 0.6, 0.25, 0.02, 0.05, "count"),
    Series("AWS/ApiGateway", "Latency", (("ApiName", "orders"),), "Milliseconds", 120, 0.1, 0, 0, 0.06,
           "latency", 9),
    Series("AWS/ApiGateway", "4XXError", (("ApiName", "orders"),), "Count", 0.02, 0, 0, 0, 0, "errors", 9),
    Series("AWS/ApiGateway", "5XXError", (("ApiName", "orders"),), "Count", 0.002, 0, 0, 0, 0, "errors", 9),
    Series("AWS/Kinesis", "IncomingRecords", (("StreamName", "clickstream"),), "Count", 5200, 0.5, 0.2, 0.01,
           0.05, "count"),
    Series("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", "orders-queue"),), "Count", 25, 0.5,
           0.1, 0.0, 0.25),
]


@dataclass(frozen=True)
class Anomaly:
    """An injected anomaly: ``kind`` spike | level_shift | drift; ``factor`` multiplies the
    value (at the end of a drift); offsets are hours from the start of a 96-hour window and are
    scaled into other durations."""

    name: str
    series: int
    kind: str
    offset_h: float
    length_h: float
    factor: float
    description: str


ANOMALIES: list[Anomaly] = [
    Anomaly("cpu_spike", 0, "spike", 51.2, 0.25, 2.6, "runaway process pins the CPU for 15 minutes"),
    Anomaly("bad_deploy_latency", 6, "level_shift", 62.0, 10.0, 2.2,
            "a deploy doubles orders-api duration until rollback"),
    Anomaly("queue_backlog", 14, "drift", 74.0, 6.0, 40.0, "consumer stalls; the queue backlog grows steadily"),
    Anomaly("lambda_errors_incident", 5, "spike", 82.5, 0.33, 60.0, "dependency outage: orders-api errors"),
    Anomaly("api_5xx_incident", 12, "spike", 82.5, 0.33, 300.0, "the same outage seen as API Gateway 5XX"),
    Anomaly("kinesis_producer_outage", 13, "level_shift", 88.0, 2.0, 0.1, "producers stop: incoming records drop"),
    Anomaly("network_exfiltration", 3, "spike", 93.5, 0.33, 8.0, "bulk transfer from i-0b2c… (exfiltration)"),
]
GAPS: list[tuple[int, float, float]] = [(1, 33.0, 0.42), (13, 40.0, 0.25)]
"""(series, offset h, length h): agent restarts — missing data, not anomalies."""


def _rhythm(ts_h: np.ndarray, s: Series, start: datetime) -> np.ndarray:
    hour = (start.hour + ts_h) % 24
    weekday = (start.weekday() + (start.hour + ts_h) // 24) % 7
    daily = 1 + s.daily * np.sin(2 * np.pi * (hour - 9) / 24)
    weekly = np.where(weekday >= 5, 1 - s.weekly, 1 + s.weekly * 2 / 5)
    return daily * weekly * (1 + s.trend * ts_h / 24)


def _effect(ts_h: np.ndarray, a: Anomaly, scale: float) -> np.ndarray:
    t0, t1 = a.offset_h * scale, (a.offset_h + a.length_h) * scale
    inside = (ts_h >= t0) & (ts_h < t1)
    if a.kind == "drift":
        return np.where(inside, 1 + (a.factor - 1) * (ts_h - t0) / max(t1 - t0, 1e-9), 1.0)
    return np.where(inside, a.factor, 1.0)


def _points(i: int, s: Series, ts_h: np.ndarray, start: datetime, rng: np.random.Generator,
            counts: dict[int, np.ndarray], scale: float,
            active: list[Anomaly]) -> list[tuple[float, float, float, float] | None]:
    mult = np.ones_like(ts_h)
    for a in active:
        if a.series == i:
            mult *= _effect(ts_h, a, scale)
    level = s.base * _rhythm(ts_h, s, start) * mult * rng.lognormal(0, s.noise, ts_h.size) if s.noise else (
        s.base * mult * np.ones_like(ts_h))
    if s.shape == "count":
        n = rng.poisson(level)
        counts[i] = n
        return [None if k == 0 else (1.0, 1.0, float(k), float(k)) for k in n]
    if s.shape == "gauge":
        v = np.minimum(np.round(level, 2), s.cap)
        return [(float(x), float(x), float(x), 1.0) for x in v]
    req = counts[s.parent]
    if s.shape == "errors":
        errs = rng.binomial(req, np.minimum(level, 1.0))
        return [None if r == 0 else (0.0, float(e > 0), float(e), float(r)) for r, e in zip(req, errs)]
    out: list[tuple[float, float, float, float] | None] = []
    for r, mu in zip(req, level):
        if r == 0:
            out.append(None)
            continue
        mean = float(mu)
        lo, hi = mean * rng.uniform(0.25, 0.6), mean * rng.uniform(1.8, 4.0)
        out.append((round(float(lo), 2), round(float(hi), 2), round(mean * float(r), 2), float(r)))
    return out


def generate(out: Path, *, seed: int, start: datetime, duration_s: int, anomalies: bool = True,
             progress: Callable[[int], None] | None = None) -> Result:
    """Write the series under ``out``; ``Result.labels`` lists anomalies and gaps."""
    start = floor(to_utc(start), 60)
    active = ANOMALIES if anomalies else []
    return _generate(out, seed, start, duration_s // 60, duration_s / (96 * 3600), active, progress)


def _generate(out: Path, seed: int, start: datetime, minutes: int, scale: float, active: list[Anomaly],
              progress: Callable[[int], None] | None) -> Result:
    result = Result()
    names = random.Random(f"{seed}:metric-files")
    gaps = {(g[0]): (g[1] * scale * 60, (g[1] + g[2]) * scale * 60) for g in GAPS}
    for day0 in range(0, minutes, 1440):
        m = np.arange(day0, min(minutes, day0 + 1440))
        ts_h = m / 60.0
        rng = np.random.default_rng([seed, day0])
        counts: dict[int, np.ndarray] = {}
        pts = [_points(i, s, ts_h, start, rng, counts, scale, active) for i, s in enumerate(SERIES)]
        drop = rng.random((len(SERIES), m.size)) < 0.002
        lines_by_hour: dict[int, list[bytes]] = {}
        for j, minute in enumerate(m):
            when = start + timedelta(minutes=int(minute))
            ms = epoch_ms(when)
            for i, s in enumerate(SERIES):
                p = pts[i][j]
                g = gaps.get(i)
                if p is None or drop[i, j] or (g and g[0] <= minute < g[1]):
                    continue
                rec = {"metric_stream_name": STREAM, "account_id": ACCOUNT_ID, "region": HOME_REGION,
                       "namespace": s.namespace, "metric_name": s.metric, "dimensions": s.dimensions,
                       "timestamp": ms, "value": {"max": p[1], "min": p[0], "sum": p[2], "count": p[3]},
                       "unit": s.unit}
                lines_by_hour.setdefault(int(minute) // 60, []).append(orjson.dumps(rec))
        for hour, lines in sorted(lines_by_hour.items()):
            t = start + timedelta(hours=hour)
            arrived = t + timedelta(minutes=60, seconds=names.randrange(60, 240))
            folder = out / t.strftime("%Y/%m/%d/%H")
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{STREAM}-1-{arrived.strftime('%Y-%m-%d-%H-%M-%S')}-{names.getrandbits(128):032x}.gz"
            data = gzip.compress(b"\n".join(lines) + b"\n", mtime=0)
            (folder / name).write_bytes(data)
            result.files += 1
            result.bytes += len(data)
            result.events += len(lines)
            result.paths.append(folder / name)
            if progress is not None:
                progress(len(lines))
    result.labels = _labels(start, minutes, scale, active)
    return result


def _labels(start: datetime, minutes: int, scale: float, active: list[Anomaly]) -> list[dict[str, Any]]:
    end = start + timedelta(minutes=minutes)
    labels = []
    for a in active:
        s = SERIES[a.series]
        t0 = floor(start + timedelta(hours=a.offset_h * scale), 60)
        t1 = floor(start + timedelta(hours=(a.offset_h + a.length_h) * scale), 60)
        if t0 >= end:
            continue
        labels.append({"anomaly": a.name, "kind": a.kind, "series_id": s.sid(), "namespace": s.namespace,
                       "metric_name": s.metric, "dimensions": s.dimensions, "unit": s.unit,
                       "start": iso(t0), "end": iso(min(t1, end)), "factor": a.factor,
                       "description": a.description})
    for i, off, length in GAPS:
        s = SERIES[i]
        t0 = floor(start + timedelta(hours=off * scale), 60)
        if t0 < end:
            labels.append({"anomaly": f"gap_{s.metric}", "kind": "gap", "series_id": s.sid(),
                           "namespace": s.namespace, "metric_name": s.metric, "dimensions": s.dimensions,
                           "unit": s.unit, "start": iso(t0),
                           "end": iso(min(start + timedelta(minutes=int((off + length) * scale * 60)), end)),
                           "factor": 0.0, "description": "missing data (agent restart) — not an anomaly"})
    return labels
