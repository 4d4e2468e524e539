"""CloudWatch's alarm notification: the SNS Subject and the JSON Message (reference §9.4).

Metric alarms carry ``Trigger`` with MetricName, Namespace, StatisticType (``Statistic`` or
``ExtendedStatistic``), Statistic (upper case, e.g. ``AVERAGE``; an extended statistic as written),
Unit, Dimensions (``[{"value", "name"}]``), Period, EvaluationPeriods, DatapointsToAlarm,
ComparisonOperator, Threshold (float), TreatMissingData, EvaluateLowSampleCountPercentile; anomaly
alarms carry ``Trigger.Metrics`` (the MetricDataQuery list) and ``ThresholdMetricId`` instead.
Composite alarms carry ``AlarmRule`` and ``TriggeringChildren``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pipeline.alarms.model import REGION_NAMES, STAT_UPPER, CompositeAlarm, MetricAlarm, alarm_arn
from pipeline.alarms.reason import cw_time
from pipeline.config import ACCOUNT_ID, REGION

Alarm = MetricAlarm | CompositeAlarm


def subject(alarm_name: str, new_state: str) -> str:
    """``ALARM: "name" in US East (N. Virginia)``, shortened to SNS's 100-character limit."""
    region = REGION_NAMES.get(REGION, REGION)
    text = f'{new_state}: "{alarm_name}" in {region}'
    if len(text) >= 100:
        keep = 99 - len(f'{new_state}: "…" in {region}')
        text = f'{new_state}: "{alarm_name[:max(0, keep)]}…" in {region}'
    return text[:99]


def _trigger(a: MetricAlarm) -> dict[str, Any]:
    if "Metrics" in a.definition:
        t: dict[str, Any] = {"Period": a.period, "EvaluationPeriods": a.evaluation_periods,
                             "DatapointsToAlarm": a.datapoints_to_alarm,
                             "ComparisonOperator": a.comparison_operator,
                             "TreatMissingData": a.definition.get("TreatMissingData", ""),
                             "EvaluateLowSampleCountPercentile": a.evaluate_low_sample_count_percentile,
                             "Metrics": a.definition["Metrics"]}
        if a.band is not None:
            t["ThresholdMetricId"] = a.band.expression_id
        else:
            t["Threshold"] = a.threshold
        return t
    return {
        "MetricName": a.metric.metric_name, "Namespace": a.metric.namespace,
        "StatisticType": "ExtendedStatistic" if a.extended else "Statistic",
        "Statistic": a.metric.stat if a.extended else STAT_UPPER[a.metric.stat],
        "Unit": a.metric.unit,
        "Dimensions": [{"value": v, "name": k} for k, v in a.metric.dimensions],
        "Period": a.period, "EvaluationPeriods": a.evaluation_periods,
        "DatapointsToAlarm": a.datapoints_to_alarm, "ComparisonOperator": a.comparison_operator,
        "Threshold": a.threshold, "TreatMissingData": a.definition.get("TreatMissingData", ""),
        "EvaluateLowSampleCountPercentile": a.evaluate_low_sample_count_percentile,
    }


def message(alarm: Alarm, *, old_state: str, new_state: str, reason: str, reason_data: str | None,
            at: datetime, configuration_updated: str = "") -> dict[str, Any]:
    """The notification JSON for one state change."""
    msg: dict[str, Any] = {
        "AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": ACCOUNT_ID,
        "AlarmConfigurationUpdatedTimestamp": configuration_updated,
        "NewStateValue": new_state, "NewStateReason": reason, "StateChangeTime": cw_time(at),
        "Region": REGION_NAMES.get(REGION, REGION), "AlarmArn": alarm_arn(alarm.name),
        "OldStateValue": old_state, "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
    }
    if isinstance(alarm, CompositeAlarm):
        msg["AlarmRule"] = alarm.rule_text
        kids = []
        if reason_data:
            for t in json.loads(reason_data).get("triggeringAlarms", []):
                kids.append({"arn": t["arn"], "state": t["state"]})
        msg["TriggeringChildren"] = kids
    else:
        msg["Trigger"] = _trigger(alarm)
    return msg
