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
    lines = rollup_stage(Demo(lake, settings, quiet=True))
    assert lines["rows written"].startswith("metrics_1h ")
    # 90 metric minutes + 12 activity minutes x (CallCount total, by API, ErrorCount by API, by code)
    assert "metrics_1m 138" in lines["rows written"]
    assert lines["series"].startswith("5 (4 CloudTrail activity")
    assert "dropped 0 partitions" in lines["retention"]
    assert "App Latency {Host=a} Average over the last day: 90 points at 60 s from tier 1m" \
        in lines["metrics get"]
    again = rollup_stage(Demo(lake, settings, quiet=True))
    assert again["partitions"].startswith("0 built")
