"""Findings (audit detections), anomalies and CloudTrail Insights events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dashboards.lakedb import LakeDB
from dashboards.queries.cloudtrail import PRINCIPAL
from dashboards.timerange import dt_bounds

if TYPE_CHECKING:
    import polars as pl

LEVELS = ("critical", "high", "medium", "low", "informational")
_LEVEL_ORDER = ("CASE level WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
                "WHEN 'low' THEN 3 ELSE 4 END")


def findings(db: LakeDB, start: datetime, end: datetime, levels: tuple[str, ...] = (),
             rules: tuple[str, ...] = (), limit: int = 2000) -> pl.DataFrame:
    """Findings whose first event is in the range, most severe and newest first."""
    import polars as pl

    if not db.has("findings"):
        return pl.DataFrame(schema={"time": pl.Datetime("us", "UTC"), "level": pl.String,
                                    "rule_id": pl.String, "title": pl.String, "mitre": pl.String,
                                    "principal": pl.String, "source_ip": pl.String, "event_count": pl.Int64,
                                    "finding_id": pl.String, "last_time": pl.Datetime("us", "UTC")})
    sql = ("SELECT time, level, rule_id, coalesce(title, rule_id) AS title, array_to_string(mitre, ', ') AS mitre, "
           "principal, source_ip, event_count, finding_id, last_time FROM findings WHERE time >= ? AND time < ?")
    params: list[Any] = [start, end]
    if levels:
        sql += f" AND level IN ({', '.join('?' * len(levels))})"
        params += list(levels)
    if rules:
        sql += f" AND rule_id IN ({', '.join('?' * len(rules))})"
        params += list(rules)
    return db.df(sql + f" ORDER BY {_LEVEL_ORDER}, time DESC, finding_id LIMIT ?", [*params, limit])


def finding_counts(db: LakeDB, start: datetime, end: datetime) -> pl.DataFrame:
    """Findings per rule and level in the range (columns rule_id, level, findings, events)."""
    import polars as pl

    if not db.has("findings"):
        return pl.DataFrame(schema={"rule_id": pl.String, "title": pl.String, "level": pl.String,
                                    "findings": pl.Int64, "events": pl.Int64})
    return db.df("SELECT rule_id, coalesce(any_value(title), rule_id) AS title, level, count(*) AS findings, "
                 "sum(event_count)::BIGINT AS events FROM findings WHERE time >= ? AND time < ? "
                 f"GROUP BY rule_id, level ORDER BY min({_LEVEL_ORDER}), findings DESC, rule_id", [start, end])


def finding_events(db: LakeDB, finding_id: str) -> pl.DataFrame:
    """The CloudTrail events a finding matched (by eventID, pruned to its time span)."""
    import polars as pl

    if not db.has("findings") or not db.has("cloudtrail"):
        return pl.DataFrame()
    row = db.rows("SELECT event_ids, time, last_time FROM findings WHERE finding_id = ? LIMIT 1", [finding_id])
    if not row:
        return pl.DataFrame()
    ids, first, last = row[0]
    d0, d1 = dt_bounds(first, last + timedelta(milliseconds=1))
    return db.df(
        f"SELECT eventTime, {PRINCIPAL} AS principal, eventSource, eventName, awsRegion, sourceIPAddress, "
        "errorCode, userAgent, eventID FROM cloudtrail WHERE dt BETWEEN ? AND ? "
        "AND eventID IN (SELECT unnest(?::VARCHAR[])) ORDER BY eventTime, eventID", [d0, d1, list(ids)])


def anomalies(db: LakeDB, start: datetime, end: datetime, only_anomalous: bool = True,
              limit: int = 1000) -> pl.DataFrame:
    """Scored points in the range (anomalous ones by default), highest score first."""
    import polars as pl

    if not db.has("anomalies"):
        return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "series_id": pl.String,
                                    "value": pl.Float64, "expected": pl.Float64, "lower": pl.Float64,
                                    "upper": pl.Float64, "score": pl.Float64, "detector": pl.String})
    d0, d1 = dt_bounds(start, end)
    where = " AND is_anomaly" if only_anomalous else ""
    return db.df("SELECT timestamp, series_id, namespace, metric_name, dimensions, stat, value, expected, "
                 "lower, upper, score, detector FROM anomalies WHERE timestamp >= ? AND timestamp < ? "
                 f"AND dt BETWEEN ? AND ?{where} ORDER BY score DESC, timestamp DESC LIMIT ?",
                 [start, end, d0, d1, limit])


def anomaly_summary(db: LakeDB, start: datetime, end: datetime) -> pl.DataFrame:
    """Per series: scored points, anomalies and the top score in the range, most anomalous first."""
    import polars as pl

    if not db.has("anomalies"):
        return pl.DataFrame(schema={"series_id": pl.String, "points": pl.Int64, "anomalies": pl.Int64,
                                    "max_score": pl.Float64})
    d0, d1 = dt_bounds(start, end)
    return db.df("SELECT series_id, count(*) AS points, count(*) FILTER (WHERE is_anomaly) AS anomalies, "
                 "max(score) AS max_score FROM anomalies WHERE timestamp >= ? AND timestamp < ? "
                 "AND dt BETWEEN ? AND ? GROUP BY 1 ORDER BY anomalies DESC, max_score DESC, series_id",
                 [start, end, d0, d1])


def anomaly_series(db: LakeDB, series_id: str, start: datetime, end: datetime) -> pl.DataFrame:
    """One series' scored points with their bands, in time order."""
    d0, d1 = dt_bounds(start, end)
    return db.df("SELECT timestamp, value, expected, lower, upper, score, is_anomaly FROM anomalies "
                 "WHERE series_id = ? AND timestamp >= ? AND timestamp < ? AND dt BETWEEN ? AND ? "
                 "ORDER BY timestamp", [series_id, start, end, d0, d1])


def anomaly_meta(db: LakeDB, series_id: str) -> dict[str, Any] | None:
    """The metric behind a scored series: namespace, metric_name, dimensions, unit, stat, period."""
    if not db.has("anomalies"):
        return None
    rows = db.records("SELECT namespace, metric_name, dimensions, unit, stat, period FROM anomalies "
                      "WHERE series_id = ? LIMIT 1", [series_id])
    return rows[0] if rows else None


def insights(db: LakeDB, start: datetime, end: datetime) -> pl.DataFrame:
    """CloudTrail Insights events in the range: type, state, API and baseline vs insight rates.

    The API (``eventSource``/``eventName``) is read from ``insightDetails``, where CloudTrail puts
    it on Insights events (their top-level fields are absent); a top-level value is the fallback."""
    import polars as pl

    if not db.has("insights"):
        return pl.DataFrame(schema={"eventTime": pl.Datetime("us", "UTC"), "insight_type": pl.String,
                                    "state": pl.String, "eventSource": pl.String, "eventName": pl.String,
                                    "baseline_avg": pl.Float64, "insight_avg": pl.Float64,
                                    "eventID": pl.String})
    d0, d1 = dt_bounds(start, end)
    return db.df(
        "SELECT eventTime, json_extract_string(insightDetails, '$.insightType') AS insight_type, "
        "json_extract_string(insightDetails, '$.state') AS state, "
        "coalesce(json_extract_string(insightDetails, '$.eventSource'), eventSource) AS eventSource, "
        "coalesce(json_extract_string(insightDetails, '$.eventName'), eventName) AS eventName, "
        "TRY_CAST(json_extract(insightDetails, '$.insightContext.statistics.baseline.average') AS DOUBLE) "
        "AS baseline_avg, "
        "TRY_CAST(json_extract(insightDetails, '$.insightContext.statistics.insight.average') AS DOUBLE) "
        "AS insight_avg, eventID FROM insights WHERE eventTime >= ? AND eventTime < ? "
        "AND dt BETWEEN ? AND ? ORDER BY eventTime DESC, eventID", [start, end, d0, d1])
