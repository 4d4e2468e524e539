"""Property: an alarm definition with any field replaced by any JSON is either a valid alarm or a
one-line :class:`RuleError` naming the alarm and the field — never a crash (pipeline/alarms/validate.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.alarms.validate import parse_alarm
from pipeline.errors import RuleError
from tests.pipeline.alarms.helpers import alarm_doc
from tests.strategies import any_json

BAND = {"AlarmName": "band", "EvaluationPeriods": 3, "ComparisonOperator": "GreaterThanUpperThreshold",
        "ThresholdMetricId": "ad1", "Metrics": [
            {"Id": "m1", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Dimensions": []},
                "Period": 300, "Stat": "Average"}},
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "ReturnData": False}]}
FIELDS = sorted(set(alarm_doc()) | set(BAND) | {"ExtendedStatistic", "DatapointsToAlarm", "TreatMissingData",
                                                "AlarmActions", "Unit", "Expression"})
EXPRESSIONS = st.sampled_from(["m1 + ", "FILL(m1, REPEAT)", "METRICS()", "SUM(m1)", "ad1", "1/0", "m1 ^ 2",
                               "ANOMALY_DETECTION_BAND(m1)", "IF(m1 > 1, m1)", "((((", "SEARCH('x', 'Average', 300)"])


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = dict(draw(st.sampled_from([alarm_doc(), BAND])))
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        doc[key] = draw(any_json(6))
    queries = doc.get("Metrics")
    if isinstance(queries, list) and queries and draw(st.booleans()):
        queries = [dict(q) if isinstance(q, dict) else q for q in queries]
        q = queries[draw(st.integers(0, len(queries) - 1))]
        if isinstance(q, dict):
            q[draw(st.sampled_from(["Id", "ReturnData", "MetricStat", "Expression", "Period", "Label"]))] = \
                draw(any_json(6) | EXPRESSIONS)
        doc["Metrics"] = queries
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definitions())
def test_any_definition_is_an_alarm_or_one_line_naming_the_field(doc):
    try:
        alarm = parse_alarm(doc, "alarms.json")
    except RuleError as e:
        text = str(e)
        assert "\n" not in text and text.startswith("alarms.json") and e.field
        return
    assert alarm.name == doc["AlarmName"]


def test_an_infinite_or_nan_count_is_refused_naming_the_field() -> None:
    # found by the property above: int(inf) raised OverflowError, int(nan) ValueError
    import math

    import pytest

    for bad in (math.inf, -math.inf, math.nan, 2.5):
        with pytest.raises(RuleError, match="EvaluationPeriods"):
            parse_alarm({**alarm_doc(), "EvaluationPeriods": bad})
