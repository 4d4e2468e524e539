"""AppTest: the Metrics page's alarm thresholds, colours, axes and empty state on the fixture lake.

The fixture's alarms (lakegen.ALARMS) evaluate ``Average`` over 60 s periods; the fixture metric
has one value a minute, so the alarm's view of i-0bbb is the raw value of every minute — computed
here with polars from the fixture input, independently of the dashboards.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from tests.dashboards.test_pages import arr, chart, cpu, go, shown


@pytest.fixture
def all_data(at):
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    return at


def _series(at, opt: str):
    return at.multiselect(key="mx_dims").set_value([opt]).run()


BBB = '{"InstanceId":"i-0bbb"}\tPercent'
AAA = '{"InstanceId":"i-0aaa"}\tPercent'


def test_threshold_is_drawn_with_the_alarms_own_statistic_and_period(all_data, app_env):
    at = _series(go(all_data, "metrics"), BBB)
    assert shown(at)["Period"] == "2 min"                       # the chart itself: 2-minute averages
    spec = chart(at)
    alarm = next(t for t in spec["data"] if t["name"] == "alarm cpu-high-bbb · Average per 1 min")
    want = cpu(app_env, "i-0bbb").sort("timestamp")               # one value a minute = its 1-min average
    assert arr(alarm["y"]) == pytest.approx(want["sum"].to_list())
    assert [s["y0"] for s in spec["layout"]["shapes"]] == [65.0]
    texts = [a["text"] for a in spec["layout"]["annotations"]]
    assert texts == ["cpu-high-bbb: Average per 1 min GreaterThanThreshold 65"]


def test_no_extra_alarm_line_when_the_chart_already_shows_the_alarms_view(at, app_env):
    at.sidebar.selectbox(key="wl_range").select("Last 6 hours").run()
    at = _series(go(at, "metrics"), BBB)
    at.selectbox(key="mx_period").select(60).run()
    assert shown(at)["Period"] == "1 min"
    names = [t["name"] for t in chart(at)["data"]]
    assert not any(n.startswith("alarm ") for n in names)
    assert [s["y0"] for s in chart(at)["layout"]["shapes"]] == [65.0]


def test_every_series_has_its_own_colour_and_band(all_data, app_env):
    at = go(all_data, "metrics")
    at.multiselect(key="mx_dims").set_value([AAA, BBB]).run()
    at.multiselect(key="mx_stats").set_value(["Average", "Maximum", "Minimum"]).run()
    traces = chart(at)["data"]
    lines = [t for t in traces if t["name"].startswith("InstanceId=") and not t["name"].endswith(" upper")]
    assert len(lines) == 6
    colours = [t["line"]["color"] for t in lines]
    assert len(set(colours)) == 6                                 # bands did not use up the palette
    for t in lines:
        band = next(b for b in traces if b["name"] == f"band ±2σ · {t['name']}")
        h = t["line"]["color"].lstrip("#")
        assert band["fillcolor"].startswith(f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},")


def test_a_count_statistic_gets_its_own_axis(all_data, app_env):
    at = _series(go(all_data, "metrics"), AAA)
    at.multiselect(key="mx_stats").set_value(["Average", "SampleCount"]).run()
    spec = chart(at)
    by_name = {t["name"]: t for t in spec["data"]}
    assert by_name["InstanceId=i-0aaa · Average"].get("yaxis", "y") == "y"
    assert by_name["InstanceId=i-0aaa · SampleCount"]["yaxis"] == "y2"
    assert spec["layout"]["yaxis"]["title"]["text"] == "Percent"
    assert spec["layout"]["yaxis2"]["title"]["text"] == "Count" and spec["layout"]["yaxis2"]["side"] == "right"
    # 2-minute periods of one sample a minute: every SampleCount is 2
    assert set(arr(by_name["InstanceId=i-0aaa · SampleCount"]["y"])) == {2.0}
    assert spec["layout"]["xaxis"]["title"]["text"] == "time (UTC)"


def test_an_empty_range_says_where_the_data_is_and_offers_it(at, app_env):
    at.sidebar.selectbox(key="wl_range").select("Custom (UTC)").run()
    # the fixture's metrics cover 2026-11-09 only; ask for 2026-11-08
    at.sidebar.date_input(key="wl_d0").set_value(date(2026, 11, 8))
    at.sidebar.time_input(key="wl_t0").set_value(time(0, 0))
    at.sidebar.date_input(key="wl_d1").set_value(date(2026, 11, 8))
    at.sidebar.time_input(key="wl_t1").set_value(time(12, 0))
    at = go(at, "metrics")
    assert not at.get("plotly_chart")                            # no chart with made-up −1..6 axes
    m = cpu(app_env, "i-0aaa")["timestamp"]
    first, last = m.min(), m.max()
    text = at.info[0].value.replace("\\", "")
    assert f"from {first:%Y-%m-%d %H:%M} to " in text
    # the 1-hour tier knows whole hours: the last one ends at the top of the next hour
    assert f"to {last.replace(minute=0, second=0) + timedelta(hours=1):%Y-%m-%d %H:%M} UTC" in text
    at.button(key="mx_all_data").click().run()
    assert at.sidebar.selectbox(key="wl_range").value == "All data"
    assert at.get("plotly_chart")


def test_metric_math_over_the_lines(all_data, app_env):
    """`m2 - m1` over i-0bbb's Average (m1) and Maximum (m2) at the page's 2-minute period: each
    period's maximum less its mean, computed here with polars from the fixture's one value a
    minute; a bad expression names the character."""
    import polars as pl

    at = _series(go(all_data, "metrics"), BBB)
    at = at.multiselect(key="mx_stats").set_value(["Average", "Maximum"]).run()
    at = at.text_input(key="mx_expr").input("m2 - m1").run()
    assert not at.exception, [e.message for e in at.exception]
    line = next(t for t in chart(at)["data"] if t.get("name") == "m2 - m1")
    per = (cpu(app_env, "i-0bbb").sort("timestamp").group_by_dynamic("timestamp", every="2m")
           .agg((pl.col("sum").max() - pl.col("sum").mean()).alias("gap")))
    assert arr(line["y"]) == pytest.approx(per["gap"].to_list())
    shown_text = [c.value.replace("\\", "") for c in at.caption]           # captions are markdown-escaped
    assert "m1 = InstanceId=i-0bbb · Average, m2 = InstanceId=i-0bbb · Maximum" in shown_text
    at = at.text_input(key="mx_expr").input("m2 -").run()
    assert [w.value.replace("\\", "") for w in at.warning] == [
        "metric math: the expression ends too early at character 5"]
    assert not any(t.get("name") == "m2 -" for t in chart(at)["data"])
