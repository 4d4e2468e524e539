"""AlarmRule parsing, cycles and limits; PutMetricAlarm validation with reasons; file loading."""

from __future__ import annotations

import json

import pytest

from pipeline.alarms import rule
from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import load_alarms, parse_alarm
from pipeline.errors import InputError, RuleError
from tests.pipeline.alarms.helpers import alarm_doc, engine_with, live_timeline, minute, replay_timeline, source_with


@pytest.mark.parametrize("text,states,expected", [
    ("ALARM(CPUHigh) AND NOT ALARM(DeploymentInProgress)", {"CPUHigh": "ALARM", "DeploymentInProgress": "OK"}, True),
    ("ALARM(CPUHigh) AND NOT ALARM(DeploymentInProgress)", {"CPUHigh": "ALARM", "DeploymentInProgress": "ALARM"},
     False),
    ('(ALARM("CPUHigh") OR ALARM("DiskHigh")) AND OK("NetworkHigh")',
     {"CPUHigh": "OK", "DiskHigh": "ALARM", "NetworkHigh": "OK"}, True),
    ("ALARM(a) OR ALARM(b) AND ALARM(c)", {"a": "ALARM", "b": "OK", "c": "OK"}, True),  # AND binds tighter
    ("(ALARM(a) OR ALARM(b)) AND ALARM(c)", {"a": "ALARM", "b": "OK", "c": "OK"}, False),
    ("INSUFFICIENT_DATA(a)", {}, True),
    ("TRUE", {}, True),
    ("NOT FALSE AND TRUE", {}, True),
    ('ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:my alarm")', {"my alarm": "ALARM"}, True),
    ('ALARM("name with \\"quote\\"")', {'name with "quote"': "ALARM"}, True),
])
def test_rule_language(text, states, expected):
    assert rule.evaluate(rule.parse(text), states) is expected


@pytest.mark.parametrize("text,message", [
    ("ALARM(a) AND", "unexpected end"),
    ("ALARM(a) and ALARM(b)", "unexpected 'and'"),
    ("alarm(a)", "keywords are upper case"),
    ("ALARM a", "expected '('"),
    ("(ALARM(a)", "unexpected end"),
    ("ALARM(a))", "unexpected ')'"),
    ("BOGUS(a)", "expected ALARM"),
    ("", "non-empty"),
])
def test_rule_errors_name_the_position(text, message):
    with pytest.raises(RuleError) as e:
        rule.parse(text)
    assert message in str(e.value)


def test_rule_limits():
    too_many = " OR ".join(f"ALARM(a{i})" for i in range(101))
    with pytest.raises(RuleError, match="references 101 alarms"):
        rule.parse(too_many)
    with pytest.raises(RuleError, match="longer than 10240"):
        rule.parse("ALARM(" + "x" * 10_240 + ")")
    with pytest.raises(RuleError, match="elements"):
        rule.parse(" OR ".join(["(TRUE)"] * 251))


def _composite(name, text):
    return parse_alarm({"AlarmName": name, "AlarmRule": text})


def test_cycles_and_unknown_children_refused(lake):
    store = AlarmStore(lake)
    store.put([parse_alarm(alarm_doc("m"))])
    with pytest.raises(RuleError, match="do not exist"):
        store.put([_composite("c1", "ALARM(m) OR ALARM(nope)")])
    store.put([_composite("c1", "ALARM(m)"), _composite("c2", "ALARM(c1)")])
    with pytest.raises(RuleError, match="cycle: c1 -> c2 -> c1"):
        store.put([_composite("c1", "ALARM(c2)")])
    with pytest.raises(RuleError, match="cycle"):
        store.put([_composite("self", "ALARM(self)")])
    with pytest.raises(RuleError, match="referenced by composite alarm 'c1'"):
        store.delete(["m"])
    store.put([_composite("c1", "FALSE")])  # breaking the chain as CloudWatch documents
    store.delete(["c2", "c1", "m"])
    assert store.alarms == {}


def test_composite_follows_children_live_and_in_replay(lake):
    hi = alarm_doc("hi", EvaluationPeriods=1)
    lo = alarm_doc("lo", EvaluationPeriods=1, ComparisonOperator="LessThanThreshold", Threshold=0.5)
    comp = {"AlarmName": "both", "AlarmRule": "ALARM(hi) AND NOT ALARM(lo)", "AlarmActions": ["oncall"]}
    values = {m: (10.0 if 3 <= m < 6 else 0.0 if m >= 8 else 1.0) for m in range(12)}
    live = live_timeline(engine_with(lake, [hi, lo, comp], source_with(values)), 1, 11)
    assert [x for x in live if x[0] == "both"] == [("both", 1, "OK"), ("both", 4, "ALARM"), ("both", 7, "OK")]
    rep = replay_timeline(engine_with(lake, [hi, lo, comp], source_with(values)), 1, 11)
    assert [x for x in rep if x[0] == "both"] == [("both", 1, "OK"), ("both", 4, "ALARM"), ("both", 7, "OK")]
    eng = engine_with(lake, [hi, lo, comp], source_with(values))
    res = eng.replay(minute(1), minute(11))
    t = [t for t in res.transitions if t.alarm_name == "both" and t.new_state == "ALARM"][0]
    assert t.reason == ("arn:aws:cloudwatch:us-east-1:123456789012:alarm:hi transitioned to ALARM at "
                        "Thursday 05 November, 2026 12:04:00 UTC")
    trig = json.loads(t.reason_data)["triggeringAlarms"]
    assert {x["arn"].rsplit(":", 1)[1]: x["state"]["value"] for x in trig} == {"hi": "ALARM", "lo": "OK"}


@pytest.mark.parametrize("change,field,message", [
    ({"Period": 45}, "Period", "10, 20, 30 or a multiple of 60"),
    ({"Period": 90}, "Period", "multiple of 60"),
    ({"Period": 60, "EvaluationPeriods": 1441}, "EvaluationPeriods", "exceeds 86400 s"),
    ({"Period": 3600, "EvaluationPeriods": 169}, "EvaluationPeriods", "exceeds 604800 s"),
    ({"DatapointsToAlarm": 4}, "DatapointsToAlarm", "must not exceed EvaluationPeriods"),
    ({"EvaluationPeriods": 0}, "EvaluationPeriods", "at least 1"),
    ({"ComparisonOperator": "Above"}, "ComparisonOperator", "must be one of"),
    ({"TreatMissingData": "zero"}, "TreatMissingData", "must be one of"),
    ({"Threshold": None}, "Threshold", "required"),
    ({"Statistic": "Median"}, "Statistic", "must be one of"),
    ({"ExtendedStatistic": "p99"}, "Statistic", "exactly one of Statistic or ExtendedStatistic"),
    ({"AlarmActions": ["t"] * 6}, "AlarmActions", "at most 5"),
    ({"AlarmName": ""}, "AlarmName", "1 to 255"),
    ({"Thresold": 5}, "Thresold", "unknown PutMetricAlarm field"),
    ({"ComparisonOperator": "GreaterThanUpperThreshold"}, "ComparisonOperator", "band operators need Metrics"),
])
def test_invalid_definitions_refused_with_reason(change, field, message):
    doc = {k: v for k, v in {**alarm_doc(), **change}.items() if v is not None}
    with pytest.raises(RuleError, match=message) as e:
        parse_alarm(doc)
    assert e.value.field == field


def test_a_null_statistic_is_refused_as_missing():
    # found by tests/pipeline/alarms/test_validate_fuzz.py: `"Statistic": null` failed an internal assert
    with pytest.raises(RuleError, match="is required") as e:
        parse_alarm({**alarm_doc(), "Statistic": None})
    assert e.value.field == "Statistic"


def test_valid_edge_cases_accepted():
    assert parse_alarm(alarm_doc(Period=10, EvaluationPeriods=8640)).period == 10  # 86,400 s exactly
    assert parse_alarm(alarm_doc(Period=3600, EvaluationPeriods=168)).evaluation_periods == 168  # 7 days
    doc = alarm_doc()
    del doc["Statistic"]
    for stat in ("p99", "p99.9", "tm90", "IQM", "TM(10%:90%)", "PR(:300)"):
        assert parse_alarm({**doc, "ExtendedStatistic": stat}).extended
    with pytest.raises(RuleError, match="not a statistic"):
        parse_alarm({**doc, "ExtendedStatistic": "TM(5%:95%)"})  # alarms need 10..90


def _band_doc(**kw):
    d = {"AlarmName": "band", "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
         "EvaluationPeriods": 2, "ThresholdMetricId": "ad1", "Metrics": [
             {"Id": "m1", "ReturnData": True, "MetricStat": {
                 "Metric": {"Namespace": "App", "MetricName": "Errors",
                            "Dimensions": [{"Name": "Service", "Value": "api"}]},
                 "Period": 60, "Stat": "Average"}},
             {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 3)", "ReturnData": True}]}
    d.update(kw)
    return d


def test_anomaly_band_definition():
    a = parse_alarm(_band_doc())
    assert a.band.k == 3.0 and a.band.metric_id == "m1" and a.threshold is None
    with pytest.raises(RuleError, match="ThresholdMetricId"):
        parse_alarm(_band_doc(ThresholdMetricId="m1"))
    with pytest.raises(RuleError, match="not Threshold"):
        parse_alarm(_band_doc(Threshold=3))


def test_anomaly_band_alarm_with_injected_band(lake):
    class Band:
        def __init__(self, n):
            self.lower, self.upper = [0.0] * n, [5.0] * n

    values = {m: (9.0 if m in (5, 6) else 1.0) for m in range(10)}
    eng = engine_with(lake, [_band_doc()], source_with(values))
    eng.band_fn = lambda ts, vals, k: Band(len(ts))
    tl = [(m, s) for _, m, s in live_timeline(eng, 1, 9)]
    assert tl == [(1, "OK"), (7, "ALARM"), (8, "OK")]
    t = [t for t in eng.replay(minute(1), minute(9)).transitions if t.new_state == "ALARM"][0]
    assert t.reason.startswith("Thresholds Crossed: 2 out of the last 2 datapoints [9.0 (05/11/26 12:06:00), "
                               "9.0 (05/11/26 12:05:00)] were less than the lower thresholds [0.0, 0.0] or "
                               "greater than the upper thresholds [5.0, 5.0]")


def test_load_yaml_and_json_files(tmp_path):
    y = tmp_path / "a.yaml"
    y.write_text("- AlarmName: x\n  Namespace: App\n  MetricName: Errors\n  Statistic: Sum\n  Period: 60\n"
                 "  EvaluationPeriods: 1\n  Threshold: 1\n  ComparisonOperator: GreaterThanThreshold\n"
                 "- AlarmName: c\n  AlarmRule: ALARM(x)\n")
    assert [a.name for a in load_alarms(y)] == ["x", "c"]
    j = tmp_path / "a.json"
    j.write_text(json.dumps(alarm_doc(Period=45)))
    with pytest.raises(RuleError) as e:
        load_alarms(j)
    assert str(j) in str(e.value) and "Period" in str(e.value)
    bad = tmp_path / "b.yaml"
    bad.write_text("AlarmName: [x\n")
    with pytest.raises(InputError, match="not valid YAML") as e2:
        load_alarms(bad)
    assert e2.value.line == 2
