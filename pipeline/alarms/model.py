"""The alarm model: metric alarms and composite alarms with CloudWatch's field names and enums.

Objects here are immutable and already validated (see :mod:`pipeline.alarms.validate`); each
keeps the PutMetricAlarm / PutCompositeAlarm document it was built from in ``definition`` so
``describe`` can echo it back exactly.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import ACCOUNT_ID, REGION

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)

REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
                "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
                "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)"}

STATIC_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
BAND_OPERATORS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold",
                  "GreaterThanUpperThreshold")
OPERATOR_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}

TREAT_MISSING = ("missing", "notBreaching", "breaching", "ignore")
SIMPLE_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
STAT_UPPER = {"SampleCount": "SAMPLE_COUNT", "Average": "AVERAGE", "Sum": "SUM",
              "Minimum": "MINIMUM", "Maximum": "MAXIMUM"}


def alarm_arn(name: str) -> str:
    """``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``."""
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"


@dataclass(frozen=True)
class MetricRef:
    """One metric series and how to aggregate it: namespace, name, exact dimension set, stat."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    unit: str | None = None

    @property
    def dimension_dict(self) -> dict[str, str]:
        return dict(self.dimensions)


@dataclass(frozen=True)
class BandSpec:
    """``ANOMALY_DETECTION_BAND(metric_id, k)`` named by ``ThresholdMetricId``."""

    expression_id: str
    metric_id: str
    k: float = 2.0


@dataclass(frozen=True)
class MathSpec:
    """A metric-math alarm's queries: ``returned`` is the Id of the expression the alarm watches,
    ``trees`` / ``texts`` every expression's syntax tree and text, ``metrics`` every MetricStat
    query (Id → metric, in the order of ``Metrics``; they share the alarm's period)."""

    returned: str
    trees: dict[str, Any] = field(hash=False)
    texts: dict[str, str] = field(hash=False)
    metrics: dict[str, MetricRef] = field(hash=False)


@dataclass(frozen=True)
class MetricAlarm:
    """A validated PutMetricAlarm definition.

    ``band`` is set for anomaly-detection alarms (then ``threshold`` is None), ``math`` for alarms on a
    metric-math expression (then ``metric`` is the first metric query's); ``datapoints_to_alarm``
    is M (defaults to N); ``treat_missing_data`` is one of :data:`TREAT_MISSING`.
    """

    name: str
    metric: MetricRef
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison_operator: str
    threshold: float | None = None
    band: BandSpec | None = None
    treat_missing_data: str = "missing"
    evaluate_low_sample_count_percentile: str = ""
    description: str | None = None
    actions_enabled: bool = True
    ok_actions: tuple[str, ...] = ()
    alarm_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    extended: bool = False
    definition: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    math: MathSpec | None = field(default=None, compare=False, hash=False)

    kind = "MetricAlarm"

    @property
    def metrics(self) -> tuple[MetricRef, ...]:
        """Every metric the alarm reads (the math expression's metric queries, or its one metric)."""
        return tuple(self.math.metrics.values()) if self.math is not None else (self.metric,)

    @property
    def effective_treat_missing(self) -> str:
        """TreatMissingData as applied: ``AWS/DynamoDB`` alarms always behave as ``ignore``."""
        dynamo = self.math is None and self.metric.namespace == "AWS/DynamoDB"
        return "ignore" if dynamo else self.treat_missing_data

    def actions_for(self, state: str) -> tuple[str, ...]:
        return {OK: self.ok_actions, ALARM: self.alarm_actions,
                INSUFFICIENT_DATA: self.insufficient_data_actions}[state]


@dataclass(frozen=True)
class CompositeAlarm:
    """A validated PutCompositeAlarm definition; ``rule`` is the parsed AlarmRule; ``suppressor``
    (an alarm name), ``wait`` and ``extension`` (seconds) its action suppression
    (:mod:`pipeline.alarms.suppression`)."""

    name: str
    rule_text: str
    rule: Any
    description: str | None = None
    actions_enabled: bool = True
    ok_actions: tuple[str, ...] = ()
    alarm_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    suppressor: str | None = None
    wait: int = 0
    extension: int = 0
    definition: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    kind = "CompositeAlarm"

    def actions_for(self, state: str) -> tuple[str, ...]:
        return {OK: self.ok_actions, ALARM: self.alarm_actions,
                INSUFFICIENT_DATA: self.insufficient_data_actions}[state]


Alarm = MetricAlarm | CompositeAlarm
