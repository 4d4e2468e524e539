"""Scenario timelines (promtool-style: values in, expected state timeline out), derived by hand
from the rules in reference/aws-semantics.md §2.4-§2.5, checked on the live path (one evaluation
per minute) and on the vectorised replay."""

from __future__ import annotations

import pytest

from tests.pipeline.alarms.helpers import alarm_doc, engine_with, live_timeline, replay_timeline, source_with

# good (1.0) for minutes 0-9, breaching (10.0) for minutes 10-19, then the metric stops reporting
STOPS = {m: (1.0 if m < 10 else 10.0) for m in range(20)}


@pytest.mark.parametrize("tmd,expected", [
    # missing: 2 real breaching points after the stop are < M and too recent -> state kept;
    # once the range has no real point -> INSUFFICIENT_DATA
    ("missing", [(1, "OK"), (13, "ALARM"), (25, "INSUFFICIENT_DATA")]),
    # notBreaching: at 00:23 the range holds 2 real breaching points + 1 good fill -> OK
    ("notBreaching", [(1, "OK"), (13, "ALARM"), (23, "OK")]),
    # breaching: missing points count as bad -> stays in ALARM
    ("breaching", [(1, "OK"), (13, "ALARM")]),
    # ignore: no real data -> keep the current state
    ("ignore", [(1, "OK"), (13, "ALARM")]),
])
def test_metric_stops_reporting(lake, tmd, expected):
    eng = engine_with(lake, [alarm_doc(TreatMissingData=tmd)], source_with(STOPS))
    assert [(m, s) for _, m, s in live_timeline(eng, 1, 40)] == expected
    eng2 = engine_with(lake, [alarm_doc(TreatMissingData=tmd)], source_with(STOPS))
    assert [(m, s) for _, m, s in replay_timeline(eng2, 1, 40)] == expected


FLAP = {m: (10.0 if m % 2 == 0 else 1.0) for m in range(20)}


def test_flapping_metric_two_of_three_flips_each_minute(lake):
    eng = engine_with(lake, [alarm_doc(DatapointsToAlarm=2)], source_with(FLAP))
    got = [(m, s) for _, m, s in live_timeline(eng, 1, 12)]
    # 00:01 one breaching point, too recent for 2-of-3 -> stays INSUFFICIENT_DATA
    # 00:02 a good point -> OK; then windows alternate b,g,b (ALARM) / g,b,g (OK)
    expected = [(2, "OK")] + [(m, "ALARM" if m % 2 else "OK") for m in range(3, 13)]
    assert got == expected


def test_flapping_metric_three_of_three_never_alarms(lake):
    eng = engine_with(lake, [alarm_doc()], source_with(FLAP))
    assert [(m, s) for _, m, s in replay_timeline(eng, 1, 19)] == [(2, "OK")]


def test_late_data_alarms_when_it_arrives_live_but_on_time_in_replay(lake):
    values = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 10.0}
    arrivals = {5: 7.5}  # the breaching minute-5 point arrives at 00:07:30
    doc = alarm_doc(EvaluationPeriods=1)
    eng = engine_with(lake, [doc], source_with(values, arrivals))
    live = [(m, s) for _, m, s in live_timeline(eng, 1, 9)]
    # 00:06 and 00:07 see minute 4 (good) as the newest real point; 00:08 sees the late point;
    # 00:09: no real point in the range (minutes 6-8) -> INSUFFICIENT_DATA
    assert live == [(1, "OK"), (8, "ALARM"), (9, "INSUFFICIENT_DATA")]
    eng2 = engine_with(lake, [doc], source_with(values, arrivals))
    # replay sees the data as it is now: the breach shows at 00:06, when its period ended
    assert [(m, s) for _, m, s in replay_timeline(eng2, 1, 9)] == [(1, "OK"), (6, "ALARM"),
                                                                    (9, "INSUFFICIENT_DATA")]


def test_sliding_five_minute_period_evaluated_every_minute(lake):
    # Period 300, N 1: at 00:10 the window is 00:05-00:10, at 00:11 it is 00:06-00:11 (§2.4)
    values = {m: (10.0 if m == 10 else 1.0) for m in range(30)}
    doc = alarm_doc(Period=300, EvaluationPeriods=1, Statistic="Maximum")
    eng = engine_with(lake, [doc], source_with(values))
    assert [(m, s) for _, m, s in replay_timeline(eng, 5, 29)] == [(5, "OK"), (11, "ALARM"), (16, "OK")]
