"""CLI paths and special cases: high-resolution periods, AWS/DynamoDB, --follow, topics commands."""

from __future__ import annotations

import json
from datetime import timedelta

from jobs.cli import main
from pipeline.alarms.model import MetricRef
from pipeline.alarms.source import MemorySource
from tests.pipeline.alarms.helpers import T0, alarm_doc, engine_with, minute, source_with


def test_high_resolution_period_evaluated_every_ten_seconds(lake):
    ref = MetricRef("App", "Errors", (("Service", "api"),), "Maximum")
    src = MemorySource()
    # one sample per second for 2 minutes; a breach from 00:00:40 to 00:00:55
    src.add(ref, [T0 + timedelta(seconds=s) for s in range(120)], [9.0 if 40 <= s < 56 else 1.0 for s in range(120)])
    doc = alarm_doc(Period=10, EvaluationPeriods=1, Statistic="Maximum")
    eng = engine_with(lake, [doc], src)
    res = eng.replay(T0 + timedelta(seconds=10), minute(2))
    got = [((t.at - T0).total_seconds(), t.new_state) for t in res.transitions]
    # windows [40,50) and [50,60) breach: ALARM at 00:00:50, OK at 00:01:10
    assert got == [(10.0, "OK"), (50.0, "ALARM"), (70.0, "OK")]


def test_dynamodb_alarms_always_ignore_missing_data(lake):
    ref = MetricRef("AWS/DynamoDB", "ThrottledRequests", (), "Sum")
    src = MemorySource()
    src.add(ref, [minute(0)], [5.0])
    doc = {"AlarmName": "ddb", "Namespace": "AWS/DynamoDB", "MetricName": "ThrottledRequests", "Statistic": "Sum",
           "Period": 60, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
           "TreatMissingData": "breaching"}
    eng = engine_with(lake, [doc], src)
    res = eng.replay(minute(1), minute(10))
    # missing minutes afterwards keep the state (ignore), they are never "breaching" fills
    assert [(int((t.at - T0).total_seconds() // 60), t.new_state) for t in res.transitions] == [(1, "ALARM")]


def test_evaluate_follow_and_set_state_cli(lake, tmp_path, capsys):
    f = tmp_path / "a.json"
    f.write_text(json.dumps([alarm_doc("x", TreatMissingData="breaching", EvaluationPeriods=1)]))
    base = ["--lake", lake.root, "-q"]
    assert main(base + ["alarms", "put", str(f)]) == 0
    assert main(base + ["alarms", "evaluate", "--follow", "--iterations", "1"]) == 0
    assert "INSUFFICIENT_DATA -> ALARM" in capsys.readouterr().out  # no data at all, treated as breaching
    assert main(base + ["alarms", "set-state", "x", "--state-value", "OK", "--state-reason", "manual"]) == 0
    assert capsys.readouterr().out.strip() == "x: ALARM -> OK"
    assert main(base + ["alarms", "describe", "--state-value", "OK", "--format", "json"]) == 0
    (d,) = json.loads(capsys.readouterr().out)["MetricAlarms"]
    assert (d["AlarmName"], d["StateValue"], d["StateReason"]) == ("x", "OK", "manual")
    assert main(base + ["alarms", "set-state", "nope", "--state-value", "OK", "--state-reason", "r"]) == 2
    assert "no such alarm" in capsys.readouterr().err
    assert main(base + ["alarms", "evaluate", "--at", "2026-11-05T12:00:00Z", "--follow"]) == 2


def test_topics_cli(lake, capsys, tmp_path):
    base = ["--lake", lake.root, "-q"]
    assert main(base + ["topics", "subscribe", "t1", "--protocol", "file", "--endpoint", "out.jsonl", "--raw"]) == 0
    arn = capsys.readouterr().out.strip()
    assert arn.startswith("arn:aws:sns:us-east-1:123456789012:t1:")
    assert main(base + ["topics", "publish", "t1", "--subject", "hi", "--message", '{"a": 1}']) == 0
    assert "delivered=1" in capsys.readouterr().out
    assert json.loads((tmp_path / "lake" / "out.jsonl").read_text()) == {"a": 1}
    assert main(base + ["topics", "list", "--format", "json"]) == 0
    (t,) = json.loads(capsys.readouterr().out)["Topics"]
    assert t["Subscriptions"][0]["RawMessageDelivery"] is True
    assert main(base + ["topics", "unsubscribe", arn]) == 0
    assert main(base + ["topics", "delete", "t1"]) == 0
    assert main(base + ["topics", "delete", "t1"]) == 2


def test_replay_record_keeps_final_states(lake):
    eng = engine_with(lake, [alarm_doc(EvaluationPeriods=1)], source_with({0: 1.0}))
    eng.set_state("a", "ALARM", "forced", at=minute(0))
    eng.replay(minute(10), minute(20), record=True)  # no data in range: stays INSUFFICIENT_DATA
    assert eng.store.state("a").state_value == "INSUFFICIENT_DATA"


def test_evaluation_error_keeps_state_and_others_run(lake):
    class Broken(MemorySource):
        def datapoints(self, metric, period, start, end, *, as_of=None):
            if metric.metric_name == "Bad":
                from pipeline.errors import QueryError

                raise QueryError("App Bad has several units (Count, Percent); pass one with unit=")
            return super().datapoints(metric, period, start, end, as_of=as_of)

    src = Broken()
    src.add(MetricRef("App", "Errors", (("Service", "api"),), "Average"), [minute(0)], [9.0])
    eng = engine_with(lake, [alarm_doc("good", EvaluationPeriods=1), alarm_doc("bad", MetricName="Bad")], src)
    (t,) = eng.evaluate(minute(1))
    assert (t.alarm_name, t.new_state) == ("good", "ALARM")
    assert eng.store.state("bad").state_value == "INSUFFICIENT_DATA"
    assert eng.errors[0][0] == "bad" and "several units" in eng.errors[0][1]


def test_recording_the_same_replay_twice_does_not_duplicate_history(lake):
    from pipeline.alarms.store import AlarmStore

    values = {m: (10.0 if 3 <= m < 6 else 1.0) for m in range(10)}
    for _ in range(2):
        with engine_with(lake, [alarm_doc(EvaluationPeriods=1)], source_with(values)) as eng:
            eng.replay(minute(1), minute(9), record=True)
    items = AlarmStore(lake).history("a", item_type="StateUpdate")
    assert [i["new_state"] for i in items] == ["OK", "ALARM", "OK"]
