"""Alarms on real AWS CloudWatch series (NAB realKnownCause, 5-minute EC2 request latency, MIT).

The static alarm's timeline is checked against a brute-force scan written independently here
(for N = 1 the rules reduce to: the newest window holding data decides, looking back at most R = 3
windows, else INSUFFICIENT_DATA). The anomaly-band alarm (real ANOMALY_DETECTION_BAND model) is
checked against NAB's labelled anomaly windows.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.alarms.model import MetricRef
from pipeline.alarms.source import MemorySource
from tests.pipeline.alarms.helpers import engine_with

FILE = "ec2_request_latency_system_failure.csv"
REF = MetricRef("AWS/EC2", "RequestLatency", (("InstanceId", "i-nab"),), "Maximum")


def _load(shared_data):
    with open(shared_data / "nab-dev" / "data" / FILE) as f:
        rows = [(datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC), float(r["value"]))
                for r in csv.DictReader(f)]
    src = MemorySource()
    src.add(REF, [t for t, _ in rows], [v for _, v in rows])
    return rows, src


def _doc(**kw):
    d = {"AlarmName": "latency", "Namespace": "AWS/EC2", "MetricName": "RequestLatency",
         "Dimensions": [{"Name": "InstanceId", "Value": "i-nab"}], "Statistic": "Maximum", "Period": 300,
         "EvaluationPeriods": 1, "Threshold": 60.0, "ComparisonOperator": "GreaterThanThreshold"}
    d.update(kw)
    return d


def _brute_force(rows, start, end, threshold):
    states, out, state = [], [], "INSUFFICIENT_DATA"
    b = start
    while b <= end:
        new = "INSUFFICIENT_DATA"
        for k in range(3):  # newest window first
            lo, hi = b - timedelta(seconds=300 * (k + 1)), b - timedelta(seconds=300 * k)
            vals = [v for t, v in rows if lo <= t < hi]
            if vals:
                new = "ALARM" if max(vals) > threshold else "OK"
                break
        if new != state:
            out.append((b, new))
            state = new
        states.append(new)
        b += timedelta(minutes=1)
    return out


def test_static_alarm_matches_brute_force_on_real_series(lake, shared_data):
    rows, src = _load(shared_data)
    start, end = datetime(2014, 3, 18, 12, 0, tzinfo=UTC), datetime(2014, 3, 19, 12, 0, tzinfo=UTC)
    eng = engine_with(lake, [_doc()], src)
    got = [(t.at, t.new_state) for t in eng.replay(start, end).transitions]
    near = [r for r in rows if start - timedelta(minutes=20) <= r[0] <= end]
    expected = _brute_force(near, start, end, 60.0)
    assert got == expected
    assert sum(s == "ALARM" for _, s in got) >= 1  # the labelled system failure (22:36, 22:41) crosses 60 ms


@pytest.mark.slow
def test_anomaly_band_alarm_fires_inside_labelled_windows(lake, shared_data):
    rows, src = _load(shared_data)
    windows = json.loads((shared_data / "nab-dev" / "labels" / "windows.json").read_text())
    labelled = [(datetime.fromisoformat(a).replace(tzinfo=UTC), datetime.fromisoformat(b).replace(tzinfo=UTC))
                for a, b in windows[f"realKnownCause/{FILE}"]]
    doc = {"AlarmName": "latency-band", "ComparisonOperator": "GreaterThanUpperThreshold",
           "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "ThresholdMetricId": "ad1", "Metrics": [
               {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "RequestLatency",
                                                      "Dimensions": [{"Name": "InstanceId", "Value": "i-nab"}]},
                                           "Period": 300, "Stat": "Maximum"}},
               {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 3)"}]}
    eng = engine_with(lake, [doc], src)
    res = eng.replay(rows[0][0] + timedelta(days=1), rows[-1][0])
    alarms = [t.at for t in res.transitions if t.new_state == "ALARM"]
    hit = [any(a <= t <= b for t in alarms) for a, b in labelled]
    assert sum(hit) >= 2, (alarms, labelled)
