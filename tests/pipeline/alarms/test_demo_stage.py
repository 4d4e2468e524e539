"""The demo stage runs on a lake, puts the sample definitions and produces notifications."""

from __future__ import annotations

import json

from jobs.alarm_demo import NOTIFICATIONS, alarm_stage
from jobs.demo import STAGES, Demo
from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import load_alarms
from tests.conftest import SAMPLE_DATA


def test_sample_definitions_are_valid():
    kinds = sorted(a.kind for a in load_alarms(SAMPLE_DATA / "alarms" / "demo.yaml"))
    assert kinds == ["CompositeAlarm", "MetricAlarm", "MetricAlarm"]


def test_stage_registered_and_runs(lake, settings):
    assert ("alarms", "jobs.alarm_demo:alarm_stage") in STAGES
    out = alarm_stage(Demo(lake, settings))
    lines = [json.loads(x) for x in lake.read_bytes(NOTIFICATIONS).decode().splitlines()]
    assert int(out["state changes"]) == len(lines) > 3  # every transition has OK or ALARM actions
    names = {json.loads(x["Message"])["AlarmName"] for x in lines}
    assert names == {"cpu-high", "cpu-anomaly", "cpu-incident"}
    assert any(json.loads(x["Message"])["NewStateValue"] == "ALARM" for x in lines)
    hist = AlarmStore(lake).history("cpu-incident", item_type="StateUpdate")
    assert hist and hist[0]["origin"] == "replay"
