"""StateReason wording against real CloudWatch texts, actions only on state change, persistence,
set-state, and the notification JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipeline.alarms.engine import Engine
from pipeline.alarms.model import MetricRef
from pipeline.alarms.reason import java_double
from pipeline.alarms.source import MemorySource
from pipeline.alarms.store import AlarmStore
from pipeline.notify import TopicStore
from tests.pipeline.alarms.helpers import alarm_doc, engine_with, live_timeline, minute, source_with


def test_reason_matches_documented_two_of_three_example(lake):
    # The 2025 notification in reference §9.4: Sum >= 5, 2 of 3, datapoints 9.0 @21:50, 14.0 @21:51
    ref = MetricRef("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                    (("LoadBalancer", "app/web/0123456789abcdef"),), "Sum")
    src = MemorySource()
    t = [datetime(2025, 12, 5, 21, m, tzinfo=UTC) for m in (49, 50, 51)]
    src.add(ref, t, [1.0, 9.0, 14.0])
    doc = {"AlarmName": "api-5xx-high", "Namespace": ref.namespace, "MetricName": ref.metric_name,
           "Dimensions": [{"Name": "LoadBalancer", "Value": "app/web/0123456789abcdef"}],
           "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 5.0,
           "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching"}
    eng = engine_with(lake, [doc], src)
    eng.set_state("api-5xx-high", "OK", "forced", at=datetime(2025, 12, 5, 21, 48, tzinfo=UTC))
    (tr,) = eng.evaluate(datetime(2025, 12, 5, 21, 52, 30, tzinfo=UTC))
    assert tr.reason == ("Threshold Crossed: 2 out of the last 3 datapoints [14.0 (05/12/25 21:51:00), "
                         "9.0 (05/12/25 21:50:00)] were greater than or equal to the threshold (5.0) "
                         "(minimum 2 datapoints for OK -> ALARM transition).")
    data = json.loads(tr.reason_data)
    assert data["recentDatapoints"] == [1.0, 9.0, 14.0] and data["threshold"] == 5.0
    assert data["period"] == 60 and data["statistic"] == "Sum"
    assert data["startDate"] == "2025-12-05T21:49:00.000+0000"


def test_reason_single_datapoint_and_insufficient(lake):
    eng = engine_with(lake, [alarm_doc(EvaluationPeriods=1)], source_with({0: 99.5}))
    (tr,) = eng.evaluate(minute(1))
    assert tr.reason == ("Threshold Crossed: 1 out of the last 1 datapoints [99.5 (05/11/26 12:00:00)] was "
                         "greater than the threshold (5.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> "
                         "ALARM transition).")
    (tr,) = eng.evaluate(minute(4))
    assert tr.reason == "Insufficient Data: 1 datapoint was unknown."


def test_reason_all_missing_treated_as_breaching(lake):
    eng = engine_with(lake, [alarm_doc(EvaluationPeriods=1, TreatMissingData="breaching")], MemorySource())
    (tr,) = eng.evaluate(minute(1))
    assert tr.new_state == "ALARM"
    assert tr.reason == ("Threshold Crossed: no datapoints were received for 1 period and 1 missing "
                         "datapoint was treated as [Breaching].")


def test_java_double_formatting():
    assert [java_double(v) for v in (5, 0.46522264287069004, 1e7, 0.0001, -2.5)] == [
        "5.0", "0.46522264287069004", "1.0E7", "1.0E-4", "-2.5"]


def test_actions_only_on_state_change_and_notification_json(lake, tmp_path):
    store = TopicStore(lake)
    store.subscribe("oncall", "file", "notify/oncall.jsonl")
    store.save()
    doc = alarm_doc(EvaluationPeriods=1, AlarmActions=["arn:aws:sns:us-east-1:123456789012:oncall"],
                    OKActions=["oncall"], AlarmDescription="errors high")
    values = {m: (10.0 if 3 <= m < 6 else 1.0) for m in range(10)}
    with engine_with(lake, [doc], source_with(values)) as eng:
        tl = live_timeline(eng, 1, 9)
    assert [(m, s) for _, m, s in tl] == [(1, "OK"), (4, "ALARM"), (7, "OK")]
    lines = [json.loads(x) for x in (tmp_path / "lake" / "notify" / "oncall.jsonl").read_text().splitlines()]
    msgs = [json.loads(e["Message"]) for e in lines]
    # 3 transitions, OK actions on 2 of them, ALARM actions on 1: exactly 3 notifications
    assert [(m["OldStateValue"], m["NewStateValue"]) for m in msgs] == [
        ("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]
    assert lines[1]["Subject"] == 'ALARM: "a" in US East (N. Virginia)'
    m = msgs[1]
    assert m["AlarmName"] == "a" and m["AlarmDescription"] == "errors high"
    assert m["StateChangeTime"] == "2026-11-05T12:04:00.000+0000"
    assert m["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
    assert m["Trigger"] == {
        "MetricName": "Errors", "Namespace": "App", "StatisticType": "Statistic", "Statistic": "AVERAGE",
        "Unit": None, "Dimensions": [{"value": "api", "name": "Service"}], "Period": 60,
        "EvaluationPeriods": 1, "DatapointsToAlarm": 1, "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 5.0, "TreatMissingData": "", "EvaluateLowSampleCountPercentile": ""}
    # state and history survive a restart
    st = AlarmStore(lake)
    assert st.state("a").state_value == "OK"
    hist = st.history("a")
    assert [h["history_summary"] for h in hist if h["history_item_type"] == "StateUpdate"] == [
        "Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK"]
    actions = [h for h in hist if h["history_item_type"] == "Action"]
    assert len(actions) == 3 and all(h["history_summary"].startswith("Successfully executed action") for h in actions)
    # a new engine continues from the stored state: no transition, no notification at minute 9
    assert Engine(lake, source_with(values)).evaluate(minute(9)) == []


def test_set_state_runs_actions_and_next_evaluation_corrects_it(lake):
    eng = engine_with(lake, [alarm_doc(EvaluationPeriods=1)], source_with({0: 1.0, 1: 1.0}))
    eng.evaluate(minute(1))
    t = eng.set_state("a", "ALARM", "testing notifications", '{"why": "test"}', at=minute(1.5))
    assert (t.old_state, t.new_state, t.reason) == ("OK", "ALARM", "testing notifications")
    (back,) = eng.evaluate(minute(2))
    assert back.new_state == "OK"


def test_unsupported_action_is_recorded_not_run(lake):
    doc = alarm_doc(EvaluationPeriods=1, AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"])
    with engine_with(lake, [doc], source_with({0: 10.0})) as eng:
        eng.evaluate(minute(1))
    (act,) = AlarmStore(lake).history("a", item_type="Action")
    assert "Only SNS topic actions run locally" in act["history_summary"]


def test_low_sample_count_percentile_ignore_keeps_state(lake):
    ref = MetricRef("App", "Latency", (), "p90")
    src = MemorySource()
    # minute 0: 200 samples, p90 = 1.0; minute 1: 50 samples (< 10/(1-0.9) = 100), all 9.0
    times = [minute(0)] * 200 + [minute(1)] * 50
    src.add(ref, times, [1.0] * 200 + [9.0] * 50)
    base = {"Namespace": "App", "MetricName": "Latency", "ExtendedStatistic": "p90", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 5, "ComparisonOperator": "GreaterThanThreshold"}
    eng = engine_with(lake, [{"AlarmName": "ign", "EvaluateLowSampleCountPercentile": "ignore", **base},
                             {"AlarmName": "ev", "EvaluateLowSampleCountPercentile": "evaluate", **base}], src)
    eng.evaluate(minute(1))
    eng.evaluate(minute(2))
    assert eng.store.state("ign").state_value == "OK"  # too few samples at 12:01: kept
    assert eng.store.state("ev").state_value == "ALARM"
