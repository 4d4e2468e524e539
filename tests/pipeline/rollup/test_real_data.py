"""Rollups of real CloudWatch series (NAB: EC2 request latency, ASG CPU, 5-minute values) and
of the committed sample data, checked against sums computed independently from the source
files with the standard library."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.query.metrics import get_metric_data, list_metrics
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.timeutil import floor
from tests.conftest import SAMPLE_DATA
from tests.pipeline.rollup.gen import point, write_metrics

NAB = {"ec2_request_latency_system_failure.csv": ("AWS/EC2", "RequestLatency", "Milliseconds"),
       "cpu_utilization_asg_misconfiguration.csv": ("AWS/EC2", "CPUUtilization", "Percent")}


def _nab(shared_data):
    out = {}
    for name in NAB:
        with open(shared_data / "nab-dev" / "data" / name) as f:
            out[name] = [(datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC), float(r["value"]))
                         for r in csv.DictReader(f)]
    return out


@pytest.mark.slow
def test_nab_series_hourly_and_daily(lake, settings, shared_data):
    series = _nab(shared_data)
    rows = [point(ts, v, ns=NAB[n][0], metric=NAB[n][1], unit=NAB[n][2], dims={"Series": n[:-4]})
            for n, pts in series.items() for ts, v in pts]
    write_metrics(lake, rows)
    run_rollups(lake, settings, DuckDBEngine())
    for n, pts in series.items():
        ns, metric, unit = NAB[n]
        hours: dict[datetime, list[float]] = defaultdict(list)
        for ts, v in pts:
            hours[floor(ts, 3600)].append(v)
        start, end = min(hours), max(hours) + timedelta(hours=1)
        now = end + timedelta(days=1)
        got = {s: get_metric_data(lake, ns, metric, {"Series": n[:-4]}, s, start, end, 3600, now=now,
                                max_points=2000)
               for s in ("SampleCount", "Maximum", "Average")}
        assert got["Average"].tier == "1h"
        assert got["SampleCount"].timestamps == sorted(hours)
        for i, h in enumerate(got["SampleCount"].timestamps):
            assert got["SampleCount"].values[i] == len(hours[h])
            assert got["Maximum"].values[i] == max(hours[h])
            assert got["Average"].values[i] == pytest.approx(sum(hours[h]) / len(hours[h]), rel=1e-12)
        # 70 days later, only 1-hour data is served: a 1-day period still answers
        old = get_metric_data(lake, ns, metric, {"Series": n[:-4]}, "Sum", start, end, 86400,
                              now=end + timedelta(days=70))
        assert old.tier == "1h" and sum(old.values) == pytest.approx(sum(v for _, v in pts), rel=1e-12)


@pytest.mark.slow
def test_sample_metrics_through_the_loader(lake, settings):
    """The committed Metric Streams sample (statistic sets) → loader → rollups: hourly sums per
    series equal those summed straight from the gzip NDJSON files."""
    from pipeline.config import LoaderSettings
    from pipeline.loader.ingest import ingest

    ingest(lake, LoaderSettings(), "metrics", [str(SAMPLE_DATA / "metrics")])
    run_rollups(lake, settings, DuckDBEngine())
    expected: dict[tuple, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    seen = set()
    for f in sorted((SAMPLE_DATA / "metrics").rglob("*.gz")):
        for line in gzip.decompress(f.read_bytes()).splitlines():
            d = json.loads(line)
            key = (d["namespace"], d["metric_name"], json.dumps(d["dimensions"], sort_keys=True), d["unit"])
            ts = datetime.fromtimestamp(d["timestamp"] / 1000, UTC)
            if (key, ts) in seen:        # the stream may deliver a datapoint twice; the lake keeps one
                continue
            seen.add((key, ts))
            acc = expected[key][floor(ts, 3600)]
            acc[0] += d["value"]["count"]
            acc[1] += d["value"]["sum"]
    infos = [m for m in list_metrics(lake) if m.namespace != "CloudTrail/Activity"]
    assert len(infos) == len(expected)
    for m in infos:
        exp = expected[(m.namespace, m.metric_name, json.dumps(m.dimensions, sort_keys=True), m.unit)]
        start, end = min(exp), max(exp) + timedelta(hours=1)
        now = end
        n = get_metric_data(lake, m.namespace, m.metric_name, m.dimensions, "SampleCount", start, end,
                            3600, unit=m.unit, now=now)
        s = get_metric_data(lake, m.namespace, m.metric_name, m.dimensions, "Sum", start, end, 3600,
                            unit=m.unit, now=now)
        assert dict(zip(n.timestamps, n.values)) == {h: v[0] for h, v in exp.items()}
        assert s.timestamps == sorted(exp)
        assert s.values == pytest.approx([exp[h][1] for h in sorted(exp)], rel=1e-9)
