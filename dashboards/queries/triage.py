"""Findings a person can triage: each finding with its triage state and suppression, repeats
grouped (rule × principal × window), and the writes behind the page's triage and suppression
forms (``pipeline.detections.triage``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dashboards.lakedb import LakeDB
from dashboards.queries.detections import findings

if TYPE_CHECKING:
    import polars as pl

GROUP_WINDOWS = {"1 h": 3600, "1 d": 86400, "7 d": 7 * 86400}


def triaged(db: LakeDB, start: datetime, end: datetime, levels: tuple[str, ...] = (),
            rules: tuple[str, ...] = ()) -> pl.DataFrame:
    """Findings in the range (see :func:`dashboards.queries.detections.findings`) with ``state``
    (``new`` when never triaged), ``triaged_by``, ``triaged_at``, ``note``, and ``suppressed``
    (the reason of the suppression that covers it, else None)."""
    import polars as pl

    from pipeline.detections import triage

    frame = findings(db, start, end, levels, rules)
    decided = triage.decisions(db.lake)
    sups = triage.suppressions(db.lake)
    rows = frame.select("finding_id", "rule_id", "principal", "source_ip").iter_rows()
    extra: dict[str, list[Any]] = {"state": [], "triaged_by": [], "triaged_at": [], "note": [], "suppressed": []}
    for fid, rule, principal, ip in rows:
        d = decided.get(fid)
        s = triage.suppressed_by(sups, rule, principal, ip)
        extra["state"].append(d.state if d else "new")
        extra["triaged_by"].append(d.who if d else None)
        extra["triaged_at"].append(d.at if d else None)
        extra["note"].append(d.note if d else None)
        extra["suppressed"].append(s.reason if s else None)
    return frame.with_columns(
        pl.Series("state", extra["state"], pl.String), pl.Series("triaged_by", extra["triaged_by"], pl.String),
        pl.Series("triaged_at", extra["triaged_at"], pl.Datetime("us", "UTC")),
        pl.Series("note", extra["note"], pl.String), pl.Series("suppressed", extra["suppressed"], pl.String))


def grouped(frame: pl.DataFrame, window_s: int) -> pl.DataFrame:
    """Repeats folded together: one row per rule × principal × ``window_s`` bucket (UTC-aligned)
    with how many findings and events it holds, first and last time, and how many are still new;
    most findings first."""
    import polars as pl

    if frame.height == 0:
        return pl.DataFrame(schema={"window": pl.Datetime("us", "UTC"), "title": pl.String, "level": pl.String,
                                    "principal": pl.String, "findings": pl.UInt32, "events": pl.Int64,
                                    "new": pl.UInt32, "first": pl.Datetime("us", "UTC"),
                                    "last": pl.Datetime("us", "UTC"), "rule_id": pl.String})
    return (frame.with_columns(pl.col("time").dt.truncate(f"{window_s}s").alias("window"))
            .group_by("window", "rule_id", "principal")
            .agg(pl.col("title").first(), pl.col("level").first(), pl.len().alias("findings"),
                 pl.col("event_count").sum().alias("events"), (pl.col("state") == "new").sum().alias("new"),
                 pl.col("time").min().alias("first"), pl.col("last_time").max().alias("last"))
            .sort(["findings", "window", "rule_id", "principal"], descending=[True, False, False, False],
                  nulls_last=True)
            .select("window", "title", "level", "principal", "findings", "events", "new", "first", "last",
                    "rule_id"))


def suppressions(db: LakeDB) -> pl.DataFrame:
    """Active suppressions, oldest first."""
    import polars as pl

    from pipeline.detections import triage

    rows = [{"suppression_id": s.suppression_id, "rule_id": s.rule_id, "principal": s.principal,
             "source_ip": s.source_ip, "reason": s.reason, "who": s.who, "at": s.at}
            for s in triage.suppressions(db.lake)]
    return pl.DataFrame(rows, schema={"suppression_id": pl.String, "rule_id": pl.String, "principal": pl.String,
                                      "source_ip": pl.String, "reason": pl.String, "who": pl.String,
                                      "at": pl.Datetime("us", "UTC")})
