"""The lake source (rollup tiers through get_metric_data) gives the same sliding-window datapoints
as the in-memory source computes directly from the raw samples, and `watchlake alarms` works on it."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from jobs.cli import main
from pipeline.alarms.model import MetricRef
from pipeline.alarms.source import LakeSource, MemorySource
from pipeline.lake import Lake
from tests.pipeline.rollup.gen import T0, point, write_metrics

VALUES = [float((m * 7) % 13) if m % 17 else np.nan for m in range(180)]  # gaps every 17 minutes


@pytest.fixture(scope="module")
def rolled(tmp_path_factory):
    lake = Lake(tmp_path_factory.mktemp("rolled") / "lake")
    rows = [point(T0 + timedelta(minutes=m, seconds=s), v + s / 10) for m, v in enumerate(VALUES)
            if not np.isnan(v) for s in (0, 20, 40)]
    write_metrics(lake, rows)
    assert main(["--lake", lake.root, "-q", "rollup"]) == 0
    mem = MemorySource()
    ref = MetricRef("App", "Latency", (("Host", "a"),), "Average")
    mem.add(ref, [r["timestamp"] for r in rows], [r["sum"] for r in rows])
    return lake, mem


@pytest.mark.parametrize("stat,period", [(s, 300) for s in ("Average", "Sum", "SampleCount", "Minimum", "Maximum")]
                         + [("Average", 60), ("Maximum", 60)])
def test_lake_matches_memory(rolled, stat, period):
    lake, mem = rolled
    ref = MetricRef("App", "Latency", (("Host", "a"),), stat)
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=170)
    a = LakeSource(lake).datapoints(ref, period, start, end)
    b = mem.datapoints(ref, period, start, end)
    assert len(a.values) == len(b.values) == (160 * 60 - period) // 60 + 1
    np.testing.assert_allclose(a.values, b.values, rtol=1e-9, equal_nan=True)


def test_cli_replay_on_rolled_up_metrics(rolled, tmp_path, capsys):
    lake, _ = rolled
    f = tmp_path / "alarm.json"
    f.write_text(json.dumps({"AlarmName": "lat", "Namespace": "App", "MetricName": "Latency",
                             "Dimensions": [{"Name": "Host", "Value": "a"}], "Statistic": "Maximum",
                             "Period": 60, "EvaluationPeriods": 2, "Threshold": 16,
                             "ComparisonOperator": "GreaterThanOrEqualToThreshold"}))
    base = ["--lake", lake.root]
    capsys.readouterr()
    assert main(base + ["alarms", "put", str(f)]) == 0
    capsys.readouterr()
    assert main(base + ["alarms", "replay", "--from", "2026-11-05T00:01:00Z", "--to", "2026-11-05T03:00:00Z",
                        "--format", "json", "--record"]) == 0
    out = json.loads(capsys.readouterr().out)
    # Maximum per minute = v + 4.0 (the sample at :40), v = 7m mod 13; >= 16 needs v = 12 in both of
    # the newest 2 real minutes: never (the next real minute has v+7 or, across a gap, v+1 mod 13)
    assert [t["NewStateValue"] for t in out["Transitions"]] == ["OK"]
    assert main(base + ["alarms", "history", "lat", "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)["AlarmHistoryItems"]
    assert sorted(i["HistoryItemType"] for i in items) == ["ConfigurationUpdate", "StateUpdate"]


def test_percentile_sliding_windows_match_aligned_queries(rolled):
    from pipeline.query.metrics import get_metric_data

    lake, mem = rolled
    ref = MetricRef("App", "Latency", (("Host", "a"),), "p90")
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=170)
    a = LakeSource(lake).datapoints(ref, 300, start, end)
    b = mem.datapoints(ref, 300, start, end)
    np.testing.assert_array_equal(a.counts, b.counts)  # sample counts per sliding window
    for offset in (0, 60, 240):  # each minute offset equals a query aligned at that offset
        md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "p90", start + timedelta(seconds=offset),
                             end, 300, now=end)
        full = [(t, v) for t, v in zip(md.timestamps, md.values) if t + timedelta(seconds=300) <= end]
        got = [a.values[(int(t.timestamp()) - a.start) // 60] for t, _ in full]
        assert got == [v for _, v in full] and len(got) >= 30


@pytest.mark.parametrize("stat,period", [("Average", 300), ("Sum", 60), ("SampleCount", 300), ("Minimum", 300),
                                         ("Maximum", 60)])
def test_preloaded_lake_source_matches_memory(rolled, stat, period):
    lake, mem = rolled
    ref = MetricRef("App", "Latency", (("Host", "a"),), stat)
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=170)
    src = LakeSource(lake)
    assert src.preload([ref], T0, T0 + timedelta(hours=3)) == 1
    a = src.datapoints(ref, period, start, end)
    assert src._from_cache(ref, period, *(int(x.timestamp()) for x in (start, end)), len(a.values)) is not None
    b = mem.datapoints(ref, period, start, end)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-9, equal_nan=True)


def test_replay_with_preload_equals_replay_without(rolled, tmp_path):
    from pipeline.alarms.engine import Engine
    from pipeline.alarms.store import AlarmStore
    from pipeline.alarms.validate import parse_alarm

    lake, _ = rolled
    docs = [{"AlarmName": f"x{p}", "Namespace": "App", "MetricName": "Latency",
             "Dimensions": [{"Name": "Host", "Value": "a"}], "Statistic": "Average", "Period": p,
             "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 8,
             "ComparisonOperator": "GreaterThanThreshold"} for p in (60, 300)]
    store = AlarmStore(lake)
    store.put([parse_alarm(d) for d in docs])
    store.save()
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(hours=3)
    fast = Engine(lake).replay(start, end, names=["x60", "x300"])
    slow_src = LakeSource(lake)
    slow_src.preload = None  # type: ignore[method-assign]  # force one get_metric_data query per alarm
    slow = Engine(lake, slow_src).replay(start, end, names=["x60", "x300"])
    assert [(t.alarm_name, t.at, t.new_state, t.reason) for t in fast.transitions] == \
        [(t.alarm_name, t.at, t.new_state, t.reason) for t in slow.transitions]
    assert len(fast.transitions) > 4


def test_a_math_alarm_on_the_lake_and_its_dashboard_series(rolled, tmp_path, capsys):
    """A metric-math alarm through `watchlake alarms` on rolled-up metrics, and the series the
    Alarms page draws for it: its expression over the lake's windows equals the same expression
    on the in-memory source's windows (computed from the raw samples), point for point."""
    from dashboards.lakedb import LakeDB
    from dashboards.queries.alarms import definition, math_data

    lake, mem = rolled
    stat = {"Metric": {"Namespace": "App", "MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "a"}]},
            "Period": 300}
    doc = {"AlarmName": "lat-spread", "EvaluationPeriods": 1, "Threshold": 9,
           "ComparisonOperator": "GreaterThanThreshold",
           "Metrics": [{"Id": "hi", "ReturnData": False, "MetricStat": {**stat, "Stat": "Maximum"}},
                       {"Id": "lo", "ReturnData": False, "MetricStat": {**stat, "Stat": "Minimum"}},
                       {"Id": "spread", "Expression": "hi - lo", "Label": "max - min per 5 min"}]}
    f = tmp_path / "math.json"
    f.write_text(json.dumps(doc))
    base = ["--lake", lake.root]
    assert main(base + ["alarms", "put", str(f)]) == 0
    capsys.readouterr()
    assert main(base + ["alarms", "replay", "--from", "2026-11-05T00:10:00Z", "--to", "2026-11-05T02:50:00Z",
                        "--format", "json"]) == 0
    out = [t for t in json.loads(capsys.readouterr().out)["Transitions"] if t["AlarmName"] == "lat-spread"]
    # a minute's samples are v, v + 2, v + 4 (v = 7m mod 13), so a 5-minute window's spread is
    # max v + 4 − min v; the first evaluation (00:10) reads minutes 5-9: v = 9, 3, 10, 4, 11 →
    # 15 − 3 = 12 > 9: ALARM at once
    assert out[0]["NewStateValue"] == "ALARM" and out[0]["Timestamp"].startswith("2026-11-05T00:10")

    db = LakeDB(lake)
    assert definition(db, "lat-spread")["expression"] == "hi - lo"
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=170)
    got = math_data(db, "lat-spread", start, end)
    hi = mem.datapoints(MetricRef("App", "Latency", (("Host", "a"),), "Maximum"), 300, start, end).values
    lo = mem.datapoints(MetricRef("App", "Latency", (("Host", "a"),), "Minimum"), 300, start, end).values
    want = [None if np.isnan(h) and np.isnan(low) else float(np.nan_to_num(h) - np.nan_to_num(low))
            for h, low in zip(hi, lo, strict=True)]
    assert len(got["values"]) == len(want) == 156
    np.testing.assert_allclose(np.array(got["values"], dtype=float), np.array(want, dtype=float),
                               rtol=1e-9, equal_nan=True)
    assert got["timestamps"][0] == start and got["timestamps"][1] - start == timedelta(minutes=1)
