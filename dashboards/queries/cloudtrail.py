"""CloudTrail explorer queries: facets, summary, timeline, top-N and single events.

Every query is bounded by the time range and prunes ``dt`` partitions. Filter values are always
bound as parameters, never spliced into SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dashboards.lakedb import LakeDB
from dashboards.timerange import dt_bounds
from pipeline.schemas import CLOUDTRAIL_JSON_FIELDS, PREFIX

if TYPE_CHECKING:
    import polars as pl

PRINCIPAL = ("coalesce(userIdentity.arn, userIdentity.userName, userIdentity.principalId, "
             "userIdentity.invokedBy, userIdentity.type)")
"""Who made the call: the identity's ARN, else its user name, principal id, service or type."""

DIMENSIONS: dict[str, str] = {
    "principal": PRINCIPAL,
    "eventSource": "eventSource",
    "eventName": "eventName",
    "awsRegion": "awsRegion",
    "sourceIPAddress": "sourceIPAddress",
    "errorCode": "errorCode",
}
OUTCOMES = ("all", "errors only", "successful only")
SEARCHED = (f"{PRINCIPAL}, userIdentity.accessKeyId, eventSource, eventName, sourceIPAddress, userAgent, "
            "errorCode, errorMessage, awsRegion, requestParameters, responseElements, requestID")
"""What the free-text search looks in."""
EVENT_COLUMNS = ("eventTime", "principal", "eventSource", "eventName", "awsRegion",
                 "sourceIPAddress", "errorCode", "userAgent", "eventID", "dt")


@dataclass(frozen=True)
class CtFilter:
    """The explorer's filters; empty tuples mean "any"."""

    start: datetime
    end: datetime
    principal: tuple[str, ...] = ()
    eventSource: tuple[str, ...] = ()
    eventName: tuple[str, ...] = ()
    awsRegion: tuple[str, ...] = ()
    sourceIPAddress: tuple[str, ...] = ()
    errorCode: tuple[str, ...] = ()
    outcome: str = "all"
    search: str = ""
    """An eventID (exact) or text found, case-insensitively, in the principal, API, IP, user
    agent, error, region, request/response JSON or requestID."""

    @property
    def unfiltered(self) -> bool:
        """True when only the time range restricts the events."""
        return self.outcome == "all" and not self.search.strip() and not any(getattr(self, d) for d in DIMENSIONS)

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (without the keyword) and its parameters."""
        d0, d1 = dt_bounds(self.start, self.end)
        sql = ["eventTime >= ?", "eventTime < ?", "dt BETWEEN ? AND ?"]
        params: list[Any] = [self.start, self.end, d0, d1]
        for dim, expr in DIMENSIONS.items():
            values = getattr(self, dim)
            if values:
                sql.append(f"{expr} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.outcome == "errors only":
            sql.append("errorCode IS NOT NULL")
        elif self.outcome == "successful only":
            sql.append("errorCode IS NULL")
        elif self.outcome != "all":
            raise ValueError(f"unknown outcome {self.outcome!r}")
        text = self.search.strip()
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql.append(f"(eventID = ? OR concat_ws(' ', {SEARCHED}) ILIKE ? ESCAPE '\\')")
            params.extend([text, like])
        return " AND ".join(sql), params


API = "eventSource || ':' || eventName"
TOP_LISTS = {"principal": "principals", "api": "apis", "errorCode": "errors", "sourceIPAddress": "source_ips"}
"""Dimension → name of its top list (``api`` is ``eventSource:eventName``)."""


def _grouped(db: LakeDB, flt: CtFilter, dims: dict[str, str], top: int) -> pl.DataFrame:
    """Counts per value of each dimension in one scan (GROUPING SETS); columns dim, value, events."""
    import polars as pl

    where, params = flt.where()
    sets = ", ".join(f"({expr})" for expr in dims.values())
    which = " ".join(f"WHEN grouping({expr}) = 0 THEN '{d}'" for d, expr in dims.items())
    value = "coalesce(" + ", ".join(f"CAST({expr} AS VARCHAR)" for expr in dims.values()) + ")"
    frame = db.df(
        f"SELECT CASE {which} END AS dim, {value} AS value, count(*) AS events FROM cloudtrail "
        f"WHERE {where} GROUP BY GROUPING SETS ({sets})", params)
    return (frame.filter(pl.col("value").is_not_null())
            .sort(["dim", "events", "value"], descending=[False, True, False])
            .group_by("dim", maintain_order=True).head(top))


def facets(db: LakeDB, start: datetime, end: datetime, top: int = 200) -> dict[str, list[str]]:
    """Filter choices per dimension in the range, most frequent first (at most ``top`` each)."""
    return facets_and_top(db, start, end, top)["facets"]


def facets_and_top(db: LakeDB, start: datetime, end: datetime, top: int = 200, n: int = 10) -> dict[str, Any]:
    """One scan of the range for both the filter choices (``facets``) and the unfiltered top
    lists (``top``, as :func:`top` returns them for a filter-free :class:`CtFilter`)."""
    import polars as pl

    if not db.has("cloudtrail"):
        empty = pl.DataFrame(schema={"value": pl.String, "events": pl.Int64})
        return {"facets": {d: [] for d in DIMENSIONS}, "top": dict.fromkeys(TOP_LISTS.values(), empty)}
    frame = _grouped(db, CtFilter(start, end), {**DIMENSIONS, "api": API}, top)
    return {"facets": {d: frame.filter(pl.col("dim") == d)["value"].to_list() for d in DIMENSIONS},
            "top": {label: frame.filter(pl.col("dim") == d).head(n).select("value", "events")
                    for d, label in TOP_LISTS.items()}}


def summary(db: LakeDB, flt: CtFilter) -> dict[str, int]:
    """Events, errors, distinct principals, APIs and source IPs matching the filters."""
    keys = ("events", "errors", "principals", "apis", "source_ips")
    if not db.has("cloudtrail"):
        return dict.fromkeys(keys, 0)
    where, params = flt.where()
    row = db.rows(
        f"SELECT count(*), count(errorCode), count(DISTINCT {PRINCIPAL}), "
        "count(DISTINCT eventSource || ':' || eventName), count(DISTINCT sourceIPAddress) "
        f"FROM cloudtrail WHERE {where}", params)[0]
    return {k: int(v or 0) for k, v in zip(keys, row)}


def timeline(db: LakeDB, flt: CtFilter, bucket: int) -> pl.DataFrame:
    """Events per bucket split into ``ok`` and ``error`` (columns bucket, outcome, events)."""
    import polars as pl

    if not db.has("cloudtrail"):
        return pl.DataFrame(schema={"bucket": pl.Datetime("us", "UTC"), "outcome": pl.String,
                                    "events": pl.Int64})
    where, params = flt.where()
    return db.df(
        f"SELECT to_timestamp(floor(epoch(eventTime) / {int(bucket)}) * {int(bucket)}) AS bucket, "
        "CASE WHEN errorCode IS NULL THEN 'ok' ELSE 'error' END AS outcome, count(*) AS events "
        f"FROM cloudtrail WHERE {where} GROUP BY ALL ORDER BY bucket, outcome", params)


def top(db: LakeDB, flt: CtFilter, n: int = 10) -> dict[str, pl.DataFrame]:
    """Top principals, APIs (``source:name``), error codes and source IPs (value, events)."""
    import polars as pl

    if not db.has("cloudtrail"):
        empty = pl.DataFrame(schema={"value": pl.String, "events": pl.Int64})
        return dict.fromkeys(TOP_LISTS.values(), empty)
    dims = {d: API if d == "api" else DIMENSIONS[d] for d in TOP_LISTS}
    frame = _grouped(db, flt, dims, n)
    return {label: frame.filter(pl.col("dim") == d).select("value", "events") for d, label in TOP_LISTS.items()}


def events(db: LakeDB, flt: CtFilter, limit: int = 500) -> pl.DataFrame:
    """The newest matching events (one row each, key columns only)."""
    import polars as pl

    if not db.has("cloudtrail"):
        return pl.DataFrame(schema=dict.fromkeys(EVENT_COLUMNS, pl.String))
    # newest first: try the last hour of the range, then 8 h, 64 h, then all of it, so the usual
    # case reads only the newest partitions/row groups instead of sorting the whole range
    span = flt.end - flt.start
    for hours in (1, 8, 64, None):
        window = flt if hours is None or timedelta(hours=hours) >= span else \
            replace(flt, start=flt.end - timedelta(hours=hours))
        where, params = window.where()
        frame = db.df(
            f"SELECT eventTime, {PRINCIPAL} AS principal, eventSource, eventName, awsRegion, "
            "sourceIPAddress, errorCode, userAgent, eventID, dt FROM cloudtrail "
            f"WHERE {where} ORDER BY eventTime DESC, eventID LIMIT ?", [*params, limit])
        if frame.height >= limit or window is flt:
            return frame
    return frame  # pragma: no cover - the loop always returns


def event(db: LakeDB, event_id: str, dt: str | None = None) -> dict[str, Any] | None:
    """One event as CloudTrail JSON: free-form JSON-text fields parsed back into objects, fields
    kept in ``_wl_extra`` merged back, pipeline columns under ``"_wl"``; None if not found."""
    if not db.has("cloudtrail"):
        return None
    sql = "SELECT * FROM cloudtrail WHERE eventID = ?"
    params: list[Any] = [event_id]
    if dt:
        sql += " AND dt = ?"
        params.append(dt)
    rows = db.records(sql + " LIMIT 1", params)
    if not rows:
        return None
    return to_cloudtrail_json(rows[0])


def to_cloudtrail_json(row: dict[str, Any]) -> dict[str, Any]:
    """A lake row back in CloudTrail's record shape (see :func:`event`): JSON-text fields
    (top-level free-form fields and ``userIdentity.sessionContext.webIdFederationData``) parsed."""
    out: dict[str, Any] = {}
    pipeline: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("dt", "hour"):
            continue
        if key.startswith(PREFIX):
            if key == f"{PREFIX}extra" and value:
                try:
                    out.update(json.loads(value))
                except ValueError:
                    pipeline[key] = value
            elif value is not None:
                pipeline[key] = value
            continue
        if value is None:
            continue
        if key in CLOUDTRAIL_JSON_FIELDS and isinstance(value, str):
            try:
                out[key] = json.loads(value)  # the event's own JSON, kept exactly
                continue
            except ValueError:
                pass
        out[key] = _prune(value)  # structs: drop the all-null members Parquet adds
    session = out.get("userIdentity", {}).get("sessionContext", {})
    if isinstance(session.get("webIdFederationData"), str):  # stored as JSON text (schemas.py)
        try:
            session["webIdFederationData"] = json.loads(session["webIdFederationData"])
        except ValueError:
            pass
    if pipeline:
        out["_wl"] = pipeline
    return json.loads(json.dumps(out, default=_iso))


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _prune(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in kept.items() if v != {}}
    return value


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        text = value.isoformat().replace("+00:00", "Z")
        return text
    return str(value)
