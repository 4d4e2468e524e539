"""Synthetic metrics: Metric Streams JSON, seasonality, gaps and labelled anomalies."""

from __future__ import annotations

import gzip
import json
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.sources.cloudwatch import series_id
from pipeline.synthetic.metrics import SERIES, generate

START = datetime(2026, 11, 5, tzinfo=UTC)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("m")
    res = generate(root, seed=11, start=START, duration_s=4 * 86400)
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in sorted(root.rglob("*.gz")):
        assert p.relative_to(root).as_posix()[:11] in {f"2026/11/{d:02d}/" for d in range(5, 9)}
        for line in gzip.decompress(p.read_bytes()).splitlines():
            rec = json.loads(line)
            series[series_id(rec["namespace"], rec["metric_name"], rec["dimensions"], rec["unit"])].append(rec)
    return res, series


def test_metric_streams_records(generated: tuple[Any, dict[str, list[dict[str, Any]]]]) -> None:
    res, series = generated
    assert len(series) == len(SERIES) >= 12
    assert sum(len(v) for v in series.values()) == res.events
    namespaces = {r["namespace"] for v in series.values() for r in v}
    assert namespaces == {"AWS/EC2", "AWS/Lambda", "AWS/ApiGateway", "AWS/Kinesis", "AWS/SQS"}
    for recs in series.values():
        for r in recs[:50]:
            v = r["value"]
            assert set(v) == {"max", "min", "sum", "count"} and v["min"] <= v["max"]
            assert r["timestamp"] % 60000 == 0 and r["account_id"] == "111122223333"
            assert v["count"] >= 1 and v["min"] <= v["sum"] / v["count"] <= v["max"] + 1e-9


def test_daily_seasonality_and_missing_data(generated: tuple[Any, dict[str, list[dict[str, Any]]]]) -> None:
    _, series = generated
    inv = series[series_id("AWS/Lambda", "Invocations", {"FunctionName": "orders-api"}, "Count")]
    by_hour: dict[int, list[float]] = defaultdict(list)
    for r in inv:
        if r["timestamp"] < _ms("2026-11-07T00:00:00Z"):  # before any anomaly
            by_hour[datetime.fromtimestamp(r["timestamp"] / 1000, UTC).hour].append(r["value"]["sum"])
    peak, trough = statistics.mean(by_hour[15]), statistics.mean(by_hour[3])
    assert peak > 2 * trough
    cpu = series[series_id("AWS/EC2", "CPUUtilization", {"InstanceId": "i-0a1b2c3d4e5f60718"}, "Percent")]
    assert 5500 < len(cpu) < 4 * 1440  # a few minutes are missing


def test_labelled_anomalies_change_the_data(generated: tuple[Any, dict[str, list[dict[str, Any]]]]) -> None:
    res, series = generated
    labels = [lb for lb in res.labels if lb["kind"] != "gap"]
    assert {lb["kind"] for lb in labels} == {"spike", "level_shift", "drift"}
    for lb in labels:
        recs = series[lb["series_id"]]
        if lb["metric_name"] in ("IncomingRecords", "Invocations", "Count"):
            avg = lambda r: r["value"]["sum"]  # noqa: E731  (a count per minute)
        else:  # gauges, durations and error rates (errors / requests)
            avg = lambda r: r["value"]["sum"] / r["value"]["count"]  # noqa: E731
        s, e = _ms(lb["start"]), _ms(lb["end"])
        inside = [avg(r) for r in recs if s <= r["timestamp"] < e]
        if lb["kind"] == "drift":  # compare the last hour of the drift
            inside = [avg(r) for r in recs if e - 3600_000 <= r["timestamp"] < e]
        before = [avg(r) for r in recs if s - 86400_000 <= r["timestamp"] < e - 86400_000]
        ratio = statistics.mean(inside) / max(statistics.mean(before), 1e-9)
        if lb["factor"] > 1:
            assert ratio > 1 + (lb["factor"] - 1) * 0.4, lb["anomaly"]
        else:
            assert ratio < 0.5, lb["anomaly"]
    for gap in (lb for lb in res.labels if lb["kind"] == "gap"):
        s, e = _ms(gap["start"]), _ms(gap["end"])
        assert not [r for r in series[gap["series_id"]] if s <= r["timestamp"] < e]


def test_no_anomalies_when_disabled(tmp_path: Path) -> None:
    res = generate(tmp_path, seed=11, start=START, duration_s=3600, anomalies=False)
    assert all(lb["kind"] == "gap" for lb in res.labels)
