"""AppTest: from an alarm's transition to its metric at the alarm's own statistic and period
(±1 h, ALARM intervals shaded), what changed before it and the CloudTrail events around it; the
links carry the view in their query parameters. Expected values come from the fixture inputs
(polars) and the lake's alarm history files."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import polars as pl
import pytest

from tests.dashboards import expect
from tests.dashboards.test_pages import arr, cpu, go


def _history(fx) -> pl.DataFrame:
    return pl.read_parquet(str(Path(fx.lake.root) / "alarms" / "history" / "**" / "*.parquet"))


@pytest.fixture
def drilled(at, app_env):
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    at = go(at, "alarms")
    at.selectbox(key="al_pick").select("cpu-high-bbb").run()
    hist = _history(app_env).filter(pl.col("alarm_name") == "cpu-high-bbb", pl.col("new_state") == "ALARM",
                                    pl.col("history_item_type") == "StateUpdate").sort("timestamp")
    t = hist["timestamp"][-1]
    at.selectbox(key="al_transition").select(f"{t:%Y-%m-%dT%H:%M:%SZ}").run()
    assert not at.exception, [e.message for e in at.exception]
    return at, t


def test_metric_at_the_alarms_own_view_with_alarm_shaded(drilled, app_env):
    import json

    at, t = drilled
    spec = json.loads(next(c for c in at.get("plotly_chart") if "al_metric" in c.proto.id).proto.spec)
    line = next(tr for tr in spec["data"] if tr.get("name", "").startswith("CPUUtilization"))
    want = cpu(app_env, "i-0bbb").filter(pl.col("timestamp") >= t - timedelta(hours=1),
                                         pl.col("timestamp") < t + timedelta(hours=1)).sort("timestamp")
    assert arr(line["y"]) == pytest.approx(want["sum"].to_list())       # Average per 60 s = the minute's value
    assert "Average per 1 min" in spec["layout"]["title"]["text"]
    rects = [s for s in spec["layout"]["shapes"] if s["type"] == "rect"]
    assert rects and any(s["x0"].startswith(f"{t:%Y-%m-%dT%H:%M}") or s["x0"].startswith(f"{t:%Y-%m-%d %H:%M}")
                         for s in rects)
    assert 65.0 in [s.get("y0") for s in spec["layout"]["shapes"]]


def test_what_changed_and_events_around(drilled, app_env):
    at, t = drilled
    tables = [d.value for d in at.dataframe]
    changed = next(f for f in tables if "eventID" in f.columns and set(f["eventID"]) <= {"chg-0", "chg-1"})
    assert sorted(changed["eventID"]) == ["chg-0", "chg-1"]
    around = tables[-1]
    want = expect.in_window(app_env, "cloudtrail", t - timedelta(hours=1), t + timedelta(hours=1))
    assert sorted(around["eventID"]) == sorted(want["eventID"]) and want.height > 0


def test_links_carry_the_view(drilled):
    at, t = drilled
    links = {e.proto.label: e.proto for e in at.get("page_link")}
    metric = links["Open this series in Metrics (±1 h)"]
    q = parse_qs(metric.query_string)
    assert q["mx_ns"] == ["AWS/EC2"] and q["mx_metric"] == ["CPUUtilization"]
    assert q["mx_stats"] == ["Average"] and q["mx_period"] == ["60"]
    assert q["mx_dims"] == ['{"InstanceId":"i-0bbb"}\tPercent']
    assert q["range"] == ["Custom (UTC)"]
    assert q["from"] == [f"{t - timedelta(hours=1):%Y-%m-%dT%H:%MZ}"]
    assert q["to"] == [f"{t + timedelta(hours=1):%Y-%m-%dT%H:%MZ}"]


def test_the_metrics_link_reproduces_the_alarms_view(drilled, app_env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.dashboards.conftest import APP
    from tests.dashboards.test_pages import shown

    at, t = drilled
    link = next(e.proto for e in at.get("page_link") if e.proto.label.startswith("Open this series"))
    fresh = AppTest.from_file(str(APP), default_timeout=60)     # a new browser session opening the link
    for key, values in parse_qs(link.query_string).items():
        fresh.query_params[key] = values
    fresh.switch_page("views/metrics.py").run()
    assert not fresh.exception, [e.message for e in fresh.exception]
    assert fresh.sidebar.selectbox(key="wl_range").value == "Custom (UTC)"
    assert fresh.selectbox(key="mx_period").value == 60 and fresh.multiselect(key="mx_stats").value == ["Average"]
    assert fresh.multiselect(key="mx_dims").value == ['{"InstanceId":"i-0bbb"}\tPercent']
    lo = (t - timedelta(hours=1)).replace(second=0, microsecond=0)
    hi = (t + timedelta(hours=1)).replace(second=0, microsecond=0)
    want = cpu(app_env, "i-0bbb").filter(pl.col("timestamp") >= lo, pl.col("timestamp") < hi)
    assert shown(fresh)["Period"] == "1 min" and shown(fresh)["Datapoints"] == expect.fmt(want.height)


def test_a_metric_math_alarm_draws_its_expression(at, app_env):
    """The fixture's `cpu-gap` watches `mb - ma` (i-0bbb's CPU less i-0aaa's): its transition
    shows that expression, minute by minute, equal to the difference of the two inputs."""
    import json

    at.sidebar.selectbox(key="wl_range").select("All data").run()
    at = go(at, "alarms")
    at.selectbox(key="al_pick").select("cpu-gap").run()
    hist = _history(app_env).filter(pl.col("alarm_name") == "cpu-gap", pl.col("history_item_type") == "StateUpdate")
    t = hist.sort("timestamp")["timestamp"][0]
    at.selectbox(key="al_transition").select(f"{t:%Y-%m-%dT%H:%M:%SZ}").run()
    assert not at.exception, [e.message for e in at.exception]
    spec = json.loads(next(c for c in at.get("plotly_chart") if "al_metric" in c.proto.id).proto.spec)
    line = next(tr for tr in spec["data"] if tr.get("name", "").startswith("mb - ma"))
    assert "metric math mb - ma" in spec["layout"]["title"]["text"]
    b = {r["timestamp"]: r["sum"] for r in cpu(app_env, "i-0bbb").iter_rows(named=True)}
    a = {r["timestamp"]: r["sum"] for r in cpu(app_env, "i-0aaa").iter_rows(named=True)}
    xs = [datetime.fromisoformat(x.replace("Z", "+00:00")) for x in arr(line["x"])]
    want = [None if x not in a and x not in b else b.get(x, 0.0) - a.get(x, 0.0) for x in xs]
    got = arr(line["y"])
    assert len(xs) == 120 and sum(w is not None for w in want) >= 60    # the metric day starts at t
    assert [None if g is None or g != g else pytest.approx(g) for g in got] == want
    assert not any(e.proto.label.startswith("Open this series") for e in at.get("page_link"))
