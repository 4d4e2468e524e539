"""The Pipeline page: `watchlake run`'s status and its Watchlake/Pipeline metrics, after a real run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.follow import Stop
from jobs.run import run_pipeline
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.stream import Stream

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def _app(monkeypatch, lake_root: Path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WATCHLAKE_DASHBOARD_LAKE", str(lake_root))
    monkeypatch.setenv("WATCHLAKE_DASHBOARD_REFRESH", "0")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.switch_page("views/pipeline.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_pipeline_page_before_any_run(tmp_path, monkeypatch):
    at = _app(monkeypatch, tmp_path / "empty")
    assert any(i.value.startswith("No pipeline status yet") for i in at.info)


@pytest.mark.slow
def test_pipeline_page_after_a_run(tmp_path, monkeypatch):
    lake_root = tmp_path / "lake"
    settings = load_settings(env={"WATCHLAKE__RUN__BUFFER_SECONDS": "0", "WATCHLAKE__RUN__DISABLE": "insights,compact"},
                             overrides={"lake.root": str(lake_root), "stream.root": str(tmp_path / "streams")})
    stream = Stream.create(settings.stream.root, "live", 1)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    stream.put([(f"k{i}", json.dumps({"eventID": f"e-{i}", "eventTime": (t0 + timedelta(seconds=i)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), "eventName": "GetObject", "eventSource": "s3.amazonaws.com",
        "awsRegion": "us-east-1", "eventVersion": "1.08"}).encode()) for i in range(40)])
    rep = run_pipeline(Lake(str(lake_root)), settings, Stop(), iterations=8, log=lambda line: None,
                       health_interval=0)
    assert rep.records_in["load"] == 40
    at = _app(monkeypatch, lake_root)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Pipeline"] == "stopped" and shown["Stages failing"] == "0"
    stages = next(d.value for d in at.dataframe if "stage" in d.value.columns)
    row = stages[stages["stage"] == "load"].iloc[0]
    assert row["records in"] == 40 and row["records out"] == 40
    assert set(stages["stage"]) == {"load", "rollup", "alarms", "anomalies", "detect", "metricfilters", "retention"}
    assert len(at.get("plotly_chart")) == 2  # the run's own metrics, drawn per stage
