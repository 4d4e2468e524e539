"""After ``watchlake demo``, every page opens on its own data: the default "Last 24 hours" ends at
the newest data of the page's tables (the demo puts its alarm definitions "now", stamping
``ConfigurationUpdate`` history rows with the wall clock, weeks after the sample's data). Expected
counts are read from the lake's Parquet files with polars over the same window."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.dashboards.conftest import APP, LAKE_ENV, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("demo") / "lake"
    subprocess.run([sys.executable, "-m", "jobs.cli", "-q", "--lake", str(lake), "demo"], check=True, cwd=REPO,
                   capture_output=True, timeout=600)
    return lake


def frame(lake: Path, folder: str) -> pl.DataFrame:
    return pl.read_parquet(str(lake / folder / "**" / "*.parquet"), hive_partitioning=False)


def last_day(newest: datetime) -> tuple[datetime, datetime]:
    end = newest.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - timedelta(hours=24), end


@pytest.fixture
def demo_at(demo_lake, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(LAKE_ENV, str(demo_lake))
    monkeypatch.setenv("WATCHLAKE_DASHBOARD_REFRESH", "0")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception
    return at


def shown(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def n(text: str) -> int:
    return int(text.replace(",", ""))


def test_cloudtrail_and_overview_open_on_the_sample(demo_at, demo_lake):
    ct = frame(demo_lake, "raw/cloudtrail")
    start, end = last_day(ct["eventTime"].max())
    want = ct.filter(pl.col("eventTime") >= start, pl.col("eventTime") < end).height
    assert want > 0
    assert n(shown(demo_at)["CloudTrail events"]) == want and n(shown(demo_at)["Metric points"]) > 0
    at = demo_at.switch_page("views/cloudtrail.py").run()
    assert n(shown(at)["Events"]) == want


def test_findings_open_on_the_newest_findings(demo_at, demo_lake):
    f = frame(demo_lake, "findings")
    start, end = last_day(f["time"].max())
    want = f.filter(pl.col("time") >= start, pl.col("time") < end)
    at = demo_at.switch_page("views/findings.py").run()
    assert not at.exception
    levels = {k: n(v) for k, v in shown(at).items() if k != "Suppressed"}
    assert sum(levels.values()) == want.height > 0


def test_anomalies_metrics_and_alarms_show_data(demo_at, demo_lake):
    at = demo_at.switch_page("views/anomalies.py").run()
    assert n(shown(at)["Scored points"]) > 0 and n(shown(at)["Insight events"]) > 0
    at = at.switch_page("views/metrics.py").run()
    assert n(shown(at)["Datapoints"]) > 0
    at = at.switch_page("views/alarms.py").run()
    hist = frame(demo_lake, "alarms/history").filter(pl.col("history_item_type") == "StateUpdate")
    start, end = last_day(hist["timestamp"].max())
    want = hist.filter(pl.col("timestamp") >= start, pl.col("timestamp") < end).height
    assert want > 0 and at.dataframe[0].value.shape[0] == want
    assert not [i.value for i in at.info if i.value.replace("\\", "").startswith("No ")]
