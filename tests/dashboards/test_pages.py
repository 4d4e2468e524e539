"""AppTest: Metrics, Alarms, Anomalies & Insights, Findings and Investigate on the fixture lake.

Expected numbers come from the fixture inputs (polars), the lake's own JSON state files, or by
hand from how the fixture was built — never from ``dashboards``' queries.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.dashboards import expect


@pytest.fixture
def all_data(at):
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    return at


def go(at, page: str):
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def shown(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def arr(v) -> list:
    """A plotly array from a chart spec (plain list or typed base64 buffer)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def frame_with(at, column: str):
    """The first table on the page that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def chart(at, i: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


# -- metrics ------------------------------------------------------------------------------------

def cpu(fx, instance: str) -> pl.DataFrame:
    f = expect.frame(fx, "metrics")
    return f.filter(pl.col("dimensions") == json.dumps({"InstanceId": instance}, separators=(",", ":")))


def test_metrics_auto_period_tier_and_values(all_data, app_env):
    at = go(all_data, "metrics")
    start, end = expect.window(app_env, None)
    # 48 h at 1-minute resolution: the smallest nice period within 1,440 points is 2 minutes
    assert (end - start).total_seconds() / 120 <= 1440 < (end - start).total_seconds() / 60
    assert shown(at)["Period"] == "2 min"
    assert shown(at)["Tier"] == "1m"
    want = (cpu(app_env, "i-0aaa").group_by_dynamic("timestamp", every="2m").agg(pl.col("sum").mean())
            .sort("timestamp"))
    assert shown(at)["Datapoints"] == expect.fmt(want.height)
    line = next(t for t in chart(at)["data"] if t.get("name") == "InstanceId=i-0aaa · Average")
    assert arr(line["y"]) == pytest.approx(want["sum"].to_list())


def test_metrics_period_override_and_several_series(all_data, app_env):
    at = go(all_data, "metrics")
    at.multiselect(key="mx_dims").select('{"InstanceId":"i-0bbb"}\tPercent').run()
    at.multiselect(key="mx_stats").select("Maximum").run()
    at.selectbox(key="mx_period").select(3600).run()
    assert shown(at)["Period"] == "1 h"
    assert shown(at)["Tier"] == "1h"
    names = [t["name"] for t in chart(at)["data"]]
    lines = [n for n in names if not n.startswith(("band", "alarm ")) and not n.endswith("upper")]
    assert sorted(lines) == sorted(f"InstanceId={i} · {s}" for i in ("i-0aaa", "i-0bbb")
                                   for s in ("Average", "Maximum"))
    hourly = cpu(app_env, "i-0bbb").group_by_dynamic("timestamp", every="1h").agg(pl.col("max").max())
    line = next(t for t in chart(at)["data"] if t.get("name") == "InstanceId=i-0bbb · Maximum")
    assert arr(line["y"]) == pytest.approx(hourly.sort("timestamp")["max"].to_list())
    assert shown(at)["Datapoints"] == expect.fmt(4 * 24)


def test_metrics_alarm_threshold_and_band(all_data, app_env):
    at = go(all_data, "metrics")
    at.multiselect(key="mx_dims").select('{"InstanceId":"i-0bbb"}\tPercent').run()
    spec = chart(at)
    lines = sorted(s["y0"] for s in spec["layout"]["shapes"])
    assert lines == [50.0, 65.0]  # the two static alarms of the fixture (cpu-high-aaa / -bbb)
    texts = [a["text"] for a in spec["layout"]["annotations"]]
    assert any("cpu-high-bbb" in t for t in texts)
    assert sum(1 for t in spec["data"] if t["name"].startswith("band ±2σ")) == 2
    at.toggle(key="mx_band").set_value(False).run()
    assert not any(t["name"].startswith("band") for t in chart(at)["data"])


# -- alarms -------------------------------------------------------------------------------------

def test_alarm_board_history_and_tree(all_data, app_env):
    at = go(all_data, "alarms")
    states = json.loads((Path(app_env.lake.root) / "alarms" / "state.json").read_text())
    counts = {s: sum(1 for r in states if r["state_value"] == s) for s in ("ALARM", "OK", "INSUFFICIENT_DATA")}
    assert shown(at)["In ALARM"] == str(counts["ALARM"])
    assert shown(at)["OK"] == str(counts["OK"])
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert sorted(badges) == sorted(
        {"ALARM": ":red-badge[ALARM]", "OK": ":green-badge[OK]",
         "INSUFFICIENT_DATA": ":gray-badge[INSUFFICIENT_DATA]"}[r["state_value"]] for r in states)
    hist = pl.read_parquet(str(Path(app_env.lake.root) / "alarms" / "history" / "**" / "*.parquet"))
    start, end = expect.window(app_env, None)
    changes = hist.filter(pl.col("history_item_type") == "StateUpdate", pl.col("timestamp") >= start,
                          pl.col("timestamp") < end)
    assert at.dataframe[0].value.shape[0] == changes.height
    at.selectbox(key="al_pick").select("cpu-high-aaa").run()
    assert at.dataframe[0].value.shape[0] == changes.filter(pl.col("alarm_name") == "cpu-high-aaa").height
    tree = at.code[0].value.splitlines()
    assert tree[0].startswith("any-cpu-high  [ALARM]")
    assert tree[1:] == ["├── cpu-high-aaa  [OK]", "└── cpu-high-bbb  [ALARM]"]
    fig = chart(at)
    assert {t["name"] for t in fig["data"]} <= {"ALARM", "OK", "INSUFFICIENT_DATA"}


# -- anomalies, insights, findings ------------------------------------------------------------------

def test_anomalies_and_insights(all_data, app_env):
    at = go(all_data, "anomalies")
    a = pl.from_arrow(app_env.anomalies)
    assert shown(at)["Scored points"] == expect.fmt(a.height)
    assert shown(at)["Anomalies"] == expect.fmt(a["is_anomaly"].sum())
    assert shown(at)["Insight events"] == expect.fmt(app_env.insights.num_rows)
    fig = chart(at)
    marks = next(t for t in fig["data"] if t.get("name") == "anomaly")
    assert len(arr(marks["y"])) == a["is_anomaly"].sum()
    ins = at.dataframe[-1].value
    assert sorted(ins["insight_type"].unique()) == ["ApiCallRateInsight", "ApiErrorRateInsight"]
    assert set(ins["insight_avg"]) == {9.0}
    # the API lives in insightDetails (CloudTrail's Insights format), never None in the table
    want = {(r["eventID"], json.loads(r["insightDetails"])["eventSource"], json.loads(r["insightDetails"])["eventName"])
            for r in app_env.insights.to_pylist()}
    assert set(zip(ins["eventID"], ins["eventSource"], ins["eventName"])) == want
    assert {s for _, s, _ in want} == {"iam.amazonaws.com", "s3.amazonaws.com"}


def test_findings_by_severity_and_matching_events(all_data, app_env):
    at = go(all_data, "findings")
    f = pl.from_arrow(app_env.findings)
    for level in ("high", "medium", "low", "critical"):
        assert shown(at)[level.capitalize()] == expect.fmt(f.filter(pl.col("level") == level).height)
    at.multiselect(key="fi_levels").select("high").run()
    table = frame_with(at, "finding_id")
    assert sorted(table["finding_id"]) == sorted(f.filter(pl.col("level") == "high")["finding_id"])
    first = table["finding_id"][0]
    at.selectbox(key="fi_pick").set_value(first).run()
    events = frame_with(at, "eventID")
    want = f.filter(pl.col("finding_id") == first)["event_ids"][0].to_list()
    assert sorted(events["eventID"]) == sorted(want)


# -- investigate --------------------------------------------------------------------------------

def test_sql_console_read_only(all_data, app_env):
    at = go(all_data, "investigate")
    at.text_area(key="sql_text").input(
        "SELECT count(*) AS n FROM cloudtrail WHERE eventTime >= TIMESTAMPTZ '2026-11-01'")
    at.button(key="FormSubmitter:sql_form-Run query").click().run()
    assert at.dataframe[0].value["n"][0] == app_env.cloudtrail.num_rows
    assert at.get("download_button")
    for bad in ("DELETE FROM cloudtrail", "SELECT * FROM read_csv('/etc/passwd')",
                "COPY (SELECT 1) TO '/tmp/x.csv'"):
        at.text_area(key="sql_text").input(bad)
        at.button(key="FormSubmitter:sql_form-Run query").click().run()
        assert not at.exception
        assert at.error, bad


def test_saved_investigation_and_what_changed(all_data, app_env):
    at = go(all_data, "investigate")
    at.selectbox(key="inv_name").select("denied_and_throttled").run()
    at.button(key="FormSubmitter:inv_form-Run investigation").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    ct = expect.frame(app_env, "cloudtrail")
    assert table.shape[0] > 0 and table.shape[0] <= ct.filter(pl.col("errorCode").is_not_null()).height
    # cpu-high-bbb last went to ALARM at 23:59 on 2026-11-09 (replayed); the fixture changed
    # i-0bbb at 23:20 and 23:50, both inside the default 2 h look-back
    assert at.selectbox(key="chg_alarm").value == "cpu-high-bbb"
    changes = at.dataframe[-1].value
    assert list(changes["eventID"]) == ["chg-1", "chg-0"]
    assert datetime(2026, 11, 9, 23, 50, tzinfo=UTC) in [t.to_pydatetime() for t in changes["eventTime"]]


def test_anomaly_series_links_to_its_metric(all_data, app_env):
    from urllib.parse import parse_qs

    from streamlit.testing.v1 import AppTest

    from tests.dashboards.conftest import APP

    at = go(all_data, "anomalies")
    link = next(e.proto for e in at.get("page_link") if e.proto.label == "Open this series in Metrics")
    query = parse_qs(link.query_string)
    a = pl.from_arrow(app_env.anomalies).row(0, named=True)
    assert query["mx_dims"] == [f"{a['dimensions']}\t{a['unit']}"]
    assert (query["mx_stats"], query["mx_period"]) == ([a["stat"]], [str(a["period"])])
    fresh = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in query.items():
        fresh.query_params[k] = v
    fresh.switch_page("views/metrics.py").run()
    assert not fresh.exception
    assert shown(fresh)["Period"] == "5 min"
    assert fresh.multiselect(key="mx_dims").value == [f"{a['dimensions']}\t{a['unit']}"]
