"""Each page's default range is anchored where its own data is.

Unit level: the stray-partition and detached-table rules of ``dashboards.timerange`` on
hand-made inputs. App level: a lake whose Kinesis records carry today's wall clock (as the demo's
stream stage writes them) and whose CloudTrail holds one event stamped five years ahead; every
page on its default range shows its data, and on "All data" too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest

from dashboards import timerange
from pipeline.schemas import CLOUDTRAIL, RECORDS
from tests.dashboards import expect, lakegen
from tests.dashboards.conftest import APP, LAKE_ENV

H = timedelta(hours=1)
T = datetime(2026, 11, 9, tzinfo=UTC)


# -- the rules, by hand ---------------------------------------------------------------------------

def test_a_live_lakes_newest_hour_is_kept_however_small():
    parts = [(T + i * H, 1000) for i in range(48)] + [(T + 48 * H, 1)]
    assert timerange.trusted_newest(parts) == 48


def test_a_far_off_stray_partition_is_not_trusted():
    parts = [(T + i * H, 1000) for i in range(48)] + [(T + timedelta(days=5 * 365), 1)]
    assert timerange.trusted_newest(parts) == 47


def test_strays_are_dropped_run_by_run_while_they_are_few():
    parts = [(T + i * H, 1000) for i in range(10)] + [(T + timedelta(days=30), 5), (T + timedelta(days=900), 3)]
    assert timerange.trusted_newest(parts) == 9
    # a detached run holding more than 1 % of the rows is real data, not a stray
    parts = [(T + i * H, 10) for i in range(10)] + [(T + timedelta(days=30), 50)]
    assert timerange.trusted_newest(parts) == 10


def test_a_table_ending_days_after_the_others_does_not_anchor_the_page():
    wall = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    got = timerange.common_newest({"cloudtrail": T + 23 * H, "metrics": T + 22 * H, "records": wall})
    assert got == ("cloudtrail", T + 23 * H)
    assert timerange.common_newest({"records": wall}) == ("records", wall)
    assert timerange.common_newest({}) is None
    assert timerange.partition_start(("2026-11-09", "07")) == T + 7 * H
    assert timerange.partition_start(("2026-11",)) == datetime(2026, 11, 1, tzinfo=UTC)


# -- the app --------------------------------------------------------------------------------------

STRAY_ID = "stray-2031"
WALL = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def stray_lake(tmp_path_factory: pytest.TempPathFactory) -> lakegen.FixtureLake:
    fx = lakegen.build(str(tmp_path_factory.mktemp("stray") / "lake"))
    recs = [{"streamName": "orders", "shardId": "shardId-000000000000", "sequenceNumber": str(5000 + i),
             "partitionKey": "k", "approximateArrivalTimestamp": WALL + timedelta(seconds=i),
             "data": b"{}", "_wl_origin": "demo", "_wl_ingest_time": WALL} for i in range(640)]
    fx.lake.write_partition("records", {"stream": "orders", "dt": f"{WALL:%Y-%m-%d}"},
                            pa.Table.from_pylist(recs, schema=RECORDS))
    from pipeline.alarms.store import HISTORY_SCHEMA

    puts = [{"alarm_name": a, "alarm_type": "MetricAlarm", "timestamp": WALL,
             "history_item_type": "ConfigurationUpdate", "history_summary": f'Alarm "{a}" updated'}
            for a in ("cpu-high-aaa", "cpu-high-bbb")]  # alarms put "now", as the demo does
    fx.lake.write_partition("alarm_history", {"dt": f"{WALL:%Y-%m-%d}"},
                            pa.Table.from_pylist(puts, schema=HISTORY_SCHEMA))
    stray = {**fx.cloudtrail.to_pylist()[0], "eventID": STRAY_ID, "eventTime": datetime(2031, 6, 1, 12, tzinfo=UTC)}
    fx.lake.write_partition("cloudtrail", {"dt": "2031-06-01", "hour": "12"},
                            pa.Table.from_pylist([stray], schema=CLOUDTRAIL))
    return fx


@pytest.fixture
def stray_at(stray_lake, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(LAKE_ENV, stray_lake.lake.root)
    monkeypatch.setenv("WATCHLAKE_DASHBOARD_REFRESH", "0")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _ct_newest(fx: lakegen.FixtureLake) -> datetime:
    return expect.frame(fx, "cloudtrail")["eventTime"].max()  # the fixture's own, without the stray


def _end(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0) + timedelta(minutes=1)


def test_cloudtrail_page_opens_on_its_events_despite_the_stray_and_the_wall_clock(stray_at, stray_lake):
    at = stray_at.switch_page("views/cloudtrail.py").run()
    end = _end(_ct_newest(stray_lake))
    assert at.session_state["wl_end"] == end
    want = expect.ct(stray_lake, end - timedelta(hours=24), end)
    assert {m.label: m.value for m in at.metric}["Events"] == expect.fmt(want.height) and want.height > 100


def test_overview_ignores_the_wall_clock_records(stray_at, stray_lake):
    newest = max(expect.frame(stray_lake, t)[c].max() for t, c in expect.TIME.items() if t != "records")
    assert stray_at.session_state["wl_end"] == _end(newest)


def test_alarms_open_on_state_changes_not_on_a_definition_put_today(stray_at, stray_lake):
    hist = pl.read_parquet(f"{stray_lake.lake.root}/alarms/history/**/*.parquet")
    changes = hist.filter(pl.col("history_item_type") == "StateUpdate")
    assert hist["timestamp"].max() == WALL
    at = stray_at.switch_page("views/alarms.py").run()
    end = _end(changes["timestamp"].max())
    assert at.session_state["wl_end"] == end
    want = changes.filter(pl.col("timestamp") >= end - timedelta(hours=24))
    assert at.dataframe[0].value.shape[0] == want.height > 0


def test_all_data_still_reaches_the_stray(stray_at):
    at = stray_at.sidebar.selectbox(key="wl_range").select("All data").run()
    assert at.session_state["wl_end"] == datetime(2031, 6, 1, 12, 1, tzinfo=UTC)


PAGES = ["overview", "metrics", "alarms", "anomalies", "cloudtrail", "findings", "investigate"]


def _empty_states(at) -> list[str]:
    return [i.value for i in at.info if i.value.replace("\\", "").startswith("No ")]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("choice", ["Last 24 hours", "All data"])
def test_every_page_shows_its_data(stray_at, page, choice):
    at = stray_at
    if choice != timerange.DEFAULT:
        at.sidebar.selectbox(key="wl_range").select(choice).run()
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.sidebar.selectbox(key="wl_range").value == choice
    assert _empty_states(at) == []
    if page not in ("investigate",):
        assert at.get("plotly_chart") or at.dataframe


def test_findings_default_range_holds_the_newest_findings(stray_at, stray_lake):
    at = stray_at.switch_page("views/findings.py").run()
    f = pl.from_arrow(stray_lake.findings)
    end = _end(f["time"].max())
    assert at.session_state["wl_end"] == end
    want = f.filter(pl.col("time") >= end - timedelta(hours=24))
    assert sum(int(m.value.replace(",", "")) for m in at.metric) == want.height


@pytest.mark.parametrize(("page", "button", "table"), [
    ("overview", "ov_all_events", "cloudtrail"), ("metrics", "mx_all_data", None),
    ("alarms", "al_all_data", None), ("anomalies", "an_all_data", "anomalies"),
    ("cloudtrail", "ct_all_data", "cloudtrail"), ("findings", "fi_all_data", "findings")])
def test_an_empty_range_says_what_exists_and_offers_it(at, app_env, page, button, table):
    from datetime import date, time

    at.sidebar.selectbox(key="wl_range").select("Custom (UTC)").run()
    at.sidebar.date_input(key="wl_d0").set_value(date(2026, 10, 1))
    at.sidebar.time_input(key="wl_t0").set_value(time(0, 0))
    at.sidebar.date_input(key="wl_d1").set_value(date(2026, 10, 2))
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception
    infos = [i.value.replace("\\", "") for i in at.info]
    assert any(" from 2026-11-" in i and "UTC" in i for i in infos), infos
    if table is not None:  # the exact span of the table, read from the fixture's input
        col = {"cloudtrail": "eventTime", "anomalies": "timestamp", "findings": "time"}[table]
        f = pl.from_arrow(getattr(app_env, table))[col]
        assert any(f"from {f.min():%Y-%m-%d %H:%M} to {f.max():%Y-%m-%d %H:%M} UTC" in i for i in infos), infos
    at.button(key=button).click().run()
    assert at.sidebar.selectbox(key="wl_range").value == "All data"
    assert not any("There are" in i.value for i in at.info)
