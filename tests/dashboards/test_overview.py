"""AppTest: the app shell and the Overview page on the fixture lake."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from tests.dashboards import expect
from tests.dashboards.conftest import APP


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_default_range_is_last_24h_of_the_data(at, app_env):
    start, end = expect.window(app_env, 24)
    assert at.session_state["wl_start"] == start
    assert at.session_state["wl_end"] == end
    assert at.sidebar.selectbox(key="wl_range").value == "Last 24 hours"
    assert any(c.value == f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC" for c in at.sidebar.caption)


def test_overview_numbers(at, app_env):
    start, end = expect.window(app_env, 24)
    shown = metrics(at)
    for table, label in [("cloudtrail", "CloudTrail events"), ("metrics", "Metric points"),
                         ("logs", "Log events"), ("records", "Kinesis records")]:
        assert shown[label] == expect.fmt(expect.in_window(app_env, table, start, end).height), label
    assert shown["Rejected records (all time)"] == expect.fmt(len(app_env.rejected))
    root = Path(app_env.lake.root)
    files = [p for p in root.rglob("*") if p.is_file()
             and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)]
    assert shown["Files"] == expect.fmt(len(files))
    sources = at.dataframe[0].value
    totals = dict(zip(sources["source"], sources["rows_total"]))
    assert totals == {t: expect.frame(app_env, t).height for t in expect.TIME}
    reasons = at.dataframe[1].value
    want = (pl.DataFrame(app_env.rejected).group_by("source", "reason").len()
            .sort("len", descending=True))
    got = {(s, r): n for s, r, n in zip(reasons["source"], reasons["reason"], reasons["records"])}
    assert got == {(s, r): n for s, r, n in want.iter_rows()}


def test_range_choice_updates_numbers_and_persists_across_pages(at, app_env):
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    assert metrics(at)["CloudTrail events"] == expect.fmt(expect.frame(app_env, "cloudtrail").height)
    at.switch_page("views/cloudtrail.py").run()
    assert at.sidebar.selectbox(key="wl_range").value == "All data"
    assert metrics(at)["Events"] == expect.fmt(expect.frame(app_env, "cloudtrail").height)
    at.sidebar.selectbox(key="wl_range").select("Last 6 hours").run()
    start, end = expect.window(app_env, 6)
    assert metrics(at)["Events"] == expect.fmt(expect.in_window(app_env, "cloudtrail", start, end).height)


def test_custom_range(at, app_env):
    from datetime import date, time

    at.sidebar.selectbox(key="wl_range").select("Custom (UTC)").run()
    at.sidebar.date_input(key="wl_d0").set_value(date(2026, 11, 8)).run()
    at.sidebar.time_input(key="wl_t0").set_value(time(6, 0)).run()
    at.sidebar.date_input(key="wl_d1").set_value(date(2026, 11, 8)).run()
    at.sidebar.time_input(key="wl_t1").set_value(time(12, 0)).run()
    assert not at.exception
    ct = expect.frame(app_env, "cloudtrail")
    want = ct.filter(pl.col("eventTime").dt.date() == date(2026, 11, 8),
                     pl.col("eventTime").dt.hour().is_between(6, 11)).height
    assert metrics(at)["CloudTrail events"] == expect.fmt(want)


def test_empty_lake_shows_no_data_everywhere(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WATCHLAKE_DASHBOARD_LAKE", str(tmp_path / "empty"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    infos = [i.value for i in at.info]
    assert any(i.startswith("No data in the lake yet") for i in infos)
    assert any(i.startswith("No rejected records yet") for i in infos)
    assert any(i.startswith("No files in the lake yet") for i in infos)
    for page in ["views/cloudtrail.py"]:
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.info, page


@pytest.mark.slow
def test_new_data_is_picked_up(tmp_path, monkeypatch):
    """A file landing in the lake changes the lake fingerprint, so the next run shows it."""
    import time
    from datetime import timedelta

    import pyarrow as pa
    from streamlit.testing.v1 import AppTest

    from dashboards import data
    from pipeline.schemas import CLOUDTRAIL
    from tests.dashboards import lakegen

    fx = lakegen.build(str(tmp_path / "lake"), derived=False)
    monkeypatch.setenv("WATCHLAKE_DASHBOARD_LAKE", fx.lake.root)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    before = int(metrics(at)["CloudTrail events"].replace(",", ""))
    row = lakegen.cloudtrail_rows()[-1]
    extra = [{**row, "eventID": f"new-{i}", "eventTime": row["eventTime"] - timedelta(minutes=i)}
             for i in range(7)]
    fx.lake.write_partition("cloudtrail", {"dt": "2026-11-09", "hour": "23"},
                            pa.Table.from_pylist(extra, schema=CLOUDTRAIL))
    time.sleep(data.LISTING_TTL + 0.2)
    at.run()
    assert metrics(at)["CloudTrail events"] == expect.fmt(before + 7)
    assert os.environ["WATCHLAKE_DASHBOARD_LAKE"] == fx.lake.root
