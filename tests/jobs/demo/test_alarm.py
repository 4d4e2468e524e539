"""The demo stage: sample definitions, notifications, and — on the real sample data after the
ingest and rollup stages — alarms inside the labelled incident windows."""

from __future__ import annotations

import json

import pytest

from jobs.demo import STAGES, Demo, run_demo
from jobs.demo.alarm import NOTIFICATIONS, alarm_stage
from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import load_alarms
from pipeline.timeutil import parse_time
from tests.conftest import SAMPLE_DATA


def test_sample_definitions_are_valid():
    kinds = sorted(a.kind for a in load_alarms(SAMPLE_DATA / "alarms" / "demo.yaml"))
    assert kinds == ["CompositeAlarm", "MetricAlarm", "MetricAlarm", "MetricAlarm"]


def _messages(lake):
    return [json.loads(json.loads(x)["Message"]) for x in lake.read_bytes(NOTIFICATIONS).decode().splitlines()]


def test_stage_registered_and_runs_without_sample_metrics(lake, settings):
    assert ("alarms", "jobs.demo.alarm:alarm_stage") in STAGES
    out = alarm_stage(Demo(lake, settings))
    assert out.synthetic
    msgs = _messages(lake)
    assert len(out.replay.result.transitions) == len(msgs)  # every transition has OK or ALARM actions
    alarmed = {m["AlarmName"] for m in msgs if m["NewStateValue"] == "ALARM"}
    assert alarmed == {"cpu-anomaly", "orders-api-errors", "orders-api-5xx", "orders-incident"}
    hist = AlarmStore(lake).history("orders-incident", item_type="StateUpdate")
    assert hist and hist[0]["origin"] == "replay"


@pytest.mark.slow
def test_alarms_fire_inside_labelled_windows_on_sample_data(lake, settings):
    run_demo(Demo(lake, settings, quiet=True), only=["ingest", "rollups", "alarms"])
    labels = {a["anomaly"]: (parse_time(a["start"]), parse_time(a["end"]))
              for a in json.loads((SAMPLE_DATA / "labels" / "metric_anomalies.json").read_text())}
    alarms: dict[str, list] = {}
    for m in _messages(lake):
        if m["NewStateValue"] == "ALARM":
            alarms.setdefault(m["AlarmName"], []).append(parse_time(m["StateChangeTime"].replace("+0000", "Z")))
    cpu_lo, cpu_hi = labels["cpu_spike"]
    out_lo, out_hi = labels["lambda_errors_incident"]
    assert len(alarms["cpu-anomaly"]) == 1 and cpu_lo <= alarms["cpu-anomaly"][0] <= cpu_hi
    for name in ("orders-api-errors", "orders-api-5xx", "orders-incident"):
        assert len(alarms[name]) == 1 and out_lo <= alarms[name][0] <= out_hi, name


def test_demo_puts_the_pipeline_alarms_after_the_replay(lake, settings):
    out = alarm_stage(Demo(lake, settings))
    assert out.pipeline_alarms == ["watchlake-load-lag", "watchlake-stage-errors"]
    store = AlarmStore(lake)
    lag = store.alarms["watchlake-load-lag"]
    assert lag.metric.namespace == "Watchlake/Pipeline" and lag.metric.metric_name == "Lag"
    assert "watchlake-load-lag" not in out.replay.result.final_states  # not part of the sample replay
