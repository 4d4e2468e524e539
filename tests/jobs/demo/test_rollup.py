"""The demo stage on a small generated lake (metrics + CloudTrail)."""

from __future__ import annotations

from datetime import timedelta

from jobs.demo import STAGES, Demo
from jobs.demo.rollup import rollup_stage
from tests.pipeline.rollup.gen import T0, event, point, write_cloudtrail, write_metrics


def test_stage_registered_after_ingest():
    titles = [t for t, _ in STAGES]
    assert ("rollups", "jobs.demo.rollup:rollup_stage") in STAGES
    if "ingest" in titles:
        assert titles.index("rollups") > titles.index("ingest")


def test_rollup_stage(lake, settings):
    write_metrics(lake, [point(T0 + timedelta(minutes=m), float(m), unit="Seconds") for m in range(90)])
    write_cloudtrail(lake, [event(T0 + timedelta(seconds=7 * i), "s3.amazonaws.com", "GetObject",
                                  "AccessDenied" if i % 4 == 0 else None, i) for i in range(100)])
    out = rollup_stage(Demo(lake, settings, quiet=True))
    rows = out.rollup.rows_by_table()
    # 90 metric minutes + 12 activity minutes x (CallCount total, by API, ErrorCount by API, by code)
    assert rows["metrics_1m"] == 138 and rows["metrics_1h"] > 0
    assert (out.series, out.activity_series) == (5, 4)
    assert out.retention.dropped == [] and out.retention.kept == []
    assert "App Latency {Host=a} Average over the last day: 90 points at 60 s from tier 1m" in out.query
    again = rollup_stage(Demo(lake, settings, quiet=True))
    assert sum(len(j.built) for j in again.rollup.jobs) == 0
