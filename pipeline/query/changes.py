""""What changed before this?": CloudTrail write events on the resources behind a metric.

Given a moment (an alarm's transition to ALARM, an anomaly, or an explicit end time) and a
metric's dimensions (``InstanceId=i-…``, ``FunctionName=…``, ``DBInstanceIdentifier=…``), list
the CloudTrail **write** events (``readOnly = false``) in the preceding window whose
``requestParameters``, ``responseElements`` or ``resources`` name one of the dimension values,
ranked by

    score = 0.6 · closeness + 0.4 · relevance

* closeness = 1 − (moment − eventTime) / window, so a change just before the moment scores 1;
* relevance (0…1) = 0.5 when the value appears as an exact JSON string (``"i-0abc"``) or in
  ``resources`` (else 0.25 for a substring), + 0.3 when the event's service is the one the metric
  belongs to (namespace or dimension name → service), + 0.2 when the call succeeded.

The query runs through the read-only runner; values enter the SQL only as escaped literals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.errors import QueryError
from pipeline.timeutil import iso

if TYPE_CHECKING:
    from pipeline.lake import Lake
    from pipeline.query.duck import QueryResult

NAMESPACE_SERVICE = {
    "AWS/EC2": "ec2", "AWS/EBS": "ec2", "AWS/Lambda": "lambda", "AWS/RDS": "rds", "AWS/DynamoDB": "dynamodb",
    "AWS/SQS": "sqs", "AWS/SNS": "sns", "AWS/S3": "s3", "AWS/ECS": "ecs", "AWS/EKS": "eks",
    "AWS/ApplicationELB": "elasticloadbalancing", "AWS/NetworkELB": "elasticloadbalancing",
    "AWS/ELB": "elasticloadbalancing", "AWS/AutoScaling": "autoscaling", "AWS/Kinesis": "kinesis",
    "AWS/Firehose": "firehose", "AWS/ApiGateway": "apigateway", "AWS/ElastiCache": "elasticache",
    "AWS/CloudFront": "cloudfront", "AWS/Route53": "route53", "AWS/NATGateway": "ec2",
}
DIMENSION_SERVICE = {
    "InstanceId": "ec2", "AutoScalingGroupName": "autoscaling", "VolumeId": "ec2", "ImageId": "ec2",
    "FunctionName": "lambda", "DBInstanceIdentifier": "rds", "DBClusterIdentifier": "rds",
    "TableName": "dynamodb", "QueueName": "sqs", "TopicName": "sns", "BucketName": "s3",
    "ClusterName": "ecs", "ServiceName": "ecs", "LoadBalancer": "elasticloadbalancing",
    "TargetGroup": "elasticloadbalancing", "StreamName": "kinesis", "DeliveryStreamName": "firehose",
    "ApiName": "apigateway", "CacheClusterId": "elasticache", "NatGatewayId": "ec2",
}


@dataclass
class Moment:
    """What we look back from: the time, the metric's dimensions and namespace, and why."""

    at: datetime
    dims: dict[str, str]
    namespace: str | None = None
    label: str = ""
    notes: list[str] = field(default_factory=list)


def what_changed(lake: Lake, moment: Moment, *, lookback: timedelta = timedelta(hours=2),
                 start: datetime | None = None, limit: int = 50) -> QueryResult:
    """Ranked CloudTrail write events on ``moment``'s resources in ``[start or at−lookback, at]``."""
    from pipeline.query.duck import run_query

    values = sorted({v for v in moment.dims.values() if v})
    if not values:
        raise QueryError("no dimension values to look for (give --dim NAME=VALUE)")
    begin = start or moment.at - lookback
    if begin >= moment.at:
        raise QueryError(f"empty window: start {iso(begin)} is not before {iso(moment.at)}")
    services = {DIMENSION_SERVICE[k] for k in moment.dims if k in DIMENSION_SERVICE}
    if moment.namespace in NAMESPACE_SERVICE:
        services.add(NAMESPACE_SERVICE[moment.namespace])
    span = (moment.at - begin).total_seconds()
    matches = " OR ".join(f"contains(coalesce(requestParameters, '') || coalesce(responseElements, '') || "
                          f"coalesce(resources, ''), {_lit(v)})" for v in values)
    exact = " OR ".join(f"contains(coalesce(requestParameters, '') || coalesce(responseElements, ''), "
                        f"{_lit(json.dumps(v))}) OR contains(coalesce(resources, ''), {_lit(v)})" for v in values)
    which = "list_filter([" + ", ".join(_lit(v) for v in values) + "], lambda v: contains(coalesce(" \
            "requestParameters, '') || coalesce(responseElements, '') || coalesce(resources, ''), v))"
    service = (" OR ".join(f"eventSource = {_lit(s + '.amazonaws.com')}" for s in sorted(services))
               if services else "false")
    sql = f"""
WITH hits AS (
    SELECT eventTime, eventSource, eventName,
           coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.type) AS who,
           sourceIPAddress, errorCode, eventID,
           {which} AS matched,
           1 - epoch(TIMESTAMPTZ '{moment.at.isoformat()}' - eventTime) / {span} AS closeness,
           (CASE WHEN {exact} THEN 0.5 ELSE 0.25 END) + (CASE WHEN {service} THEN 0.3 ELSE 0 END)
             + (CASE WHEN errorCode IS NULL THEN 0.2 ELSE 0 END) AS relevance
    FROM cloudtrail
    WHERE eventTime >= TIMESTAMPTZ '{begin.isoformat()}' AND eventTime <= TIMESTAMPTZ '{moment.at.isoformat()}'
      AND readOnly = false AND ({matches})
)
SELECT row_number() OVER (ORDER BY 0.6 * closeness + 0.4 * relevance DESC, eventTime DESC, eventID) AS rank,
       round(0.6 * closeness + 0.4 * relevance, 3) AS score, eventTime,
       round(epoch(TIMESTAMPTZ '{moment.at.isoformat()}' - eventTime) / 60, 1) AS minutes_before,
       eventName, eventSource, who, array_to_string(matched, ',') AS matched, errorCode, sourceIPAddress, eventID
FROM hits
ORDER BY rank
LIMIT {int(limit)}
"""
    result = run_query(lake, sql, default_bound_hours=None, max_rows=limit)
    dims = ", ".join(f"{k}={v}" for k, v in sorted(moment.dims.items()))
    result.notes[:0] = moment.notes + [f"{moment.label or 'window'}: CloudTrail writes naming {dims} in "
                                        f"[{iso(begin)}, {iso(moment.at)}]"]
    return result


def alarm_moment(lake: Lake, name: str, at: datetime | None = None) -> Moment:
    """The alarm's dimensions and its latest transition to ALARM at or before ``at``."""
    from pipeline.query.duck import run_query

    path = "alarms/definitions.json"
    docs = lake.read_json(path) if lake.exists(path) else []
    doc = next((d for d in docs if isinstance(d, dict) and d.get("AlarmName") == name), None)
    if doc is None:
        known = ", ".join(sorted(str(d.get("AlarmName")) for d in docs if isinstance(d, dict))) or "none"
        raise QueryError(f"unknown alarm {name!r} (known: {known})")
    dims = {d["Name"]: d["Value"] for d in doc.get("Dimensions") or []}
    for m in doc.get("Metrics") or []:
        metric = (m.get("MetricStat") or {}).get("Metric") or {}
        dims.update({d["Name"]: d["Value"] for d in metric.get("Dimensions") or []})
    namespace = doc.get("Namespace") or next(
        (((m.get("MetricStat") or {}).get("Metric") or {}).get("Namespace") for m in doc.get("Metrics") or []), None)
    if not dims:
        raise QueryError(f"alarm {name!r} has no metric dimensions (composite alarms name no resource)")
    cond = f"alarm_name = {_lit(name)} AND new_state = 'ALARM'"
    if at is not None:
        cond += f" AND timestamp <= TIMESTAMPTZ '{at.isoformat()}'"
    rows = run_query(lake, f"SELECT max(timestamp) FROM alarm_history WHERE {cond}",
                     default_bound_hours=None).rows()
    when = rows[0][0] if rows and rows[0][0] is not None else None
    notes = []
    if when is None:
        if at is None:
            raise QueryError(f"alarm {name!r} never went to ALARM in alarm_history; give --at TIME")
        when = at
        notes.append(f"alarm {name} has no ALARM transition at or before {iso(at)}; looking back from --at")
    return Moment(when, dims, namespace, f"alarm {name} → ALARM at {iso(when)}", notes)


def anomaly_moment(lake: Lake, key: str, at: datetime | None = None) -> Moment:
    """The latest flagged point (``is_anomaly``, at or before ``at``) whose series id, detector or
    metric name is ``key``; its dimensions and namespace describe the resource."""
    import duckdb

    from pipeline.query import catalog
    from pipeline.query.duck import run_query

    con = duckdb.connect()
    time_col = catalog.build(con, lake, views=["anomalies"])["anomalies"]
    present = [r[0] for r in con.execute("DESCRIBE anomalies").fetchall()]
    keys = [c for c in ("anomaly_id", "id", "series_id", "_wl_series_id", "detector", "metric_name")
            if c in present]
    if time_col is None or "dimensions" not in present or not keys:
        raise QueryError("the anomalies table has no time/dimensions/id columns to look up an anomaly")
    cond = " OR ".join(f"CAST(\"{c}\" AS VARCHAR) = {_lit(key)}" for c in keys)
    if "is_anomaly" in present:
        cond = f"({cond}) AND is_anomaly"
    if at is not None:
        cond = f"({cond}) AND \"{time_col}\" <= TIMESTAMPTZ '{at.isoformat()}'"
    ns = ", namespace" if "namespace" in present else ", NULL"
    rows = run_query(lake, f'SELECT "{time_col}", dimensions{ns} FROM anomalies WHERE {cond} '
                     f'ORDER BY "{time_col}" DESC LIMIT 1', default_bound_hours=None).rows()
    if not rows:
        raise QueryError(f"no anomaly matches {key!r} (looked in {', '.join(keys)})")
    when, dims_text, namespace = rows[0]
    dims = _dims(dims_text)
    return Moment(when, dims, namespace, f"anomaly {key} at {iso(when)}")


def _dims(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if isinstance(value, list):
        return {str(d.get("Name")): str(d.get("Value")) for d in value if isinstance(d, dict)}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
