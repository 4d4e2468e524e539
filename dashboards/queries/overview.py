"""Pipeline health: volume and freshness per source, rejected input, lake storage."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dashboards.lakedb import TIME_COLUMNS, LakeDB
from dashboards.timerange import dt_bounds

if TYPE_CHECKING:
    import polars as pl

RAW_TABLES = ("cloudtrail", "metrics", "logs", "records")


def sources(db: LakeDB, start: datetime, end: datetime) -> pl.DataFrame:
    """One row per raw source: rows in the range, rows in total, newest event and ingest time."""
    import polars as pl

    rows: list[dict[str, Any]] = []
    d0, d1 = dt_bounds(start, end)
    for table in RAW_TABLES:
        row: dict[str, Any] = {"source": table, "rows_in_range": 0, "rows_total": 0,
                               "newest_event": None, "newest_ingest": None}
        if db.has(table):
            col = TIME_COLUMNS[table]
            in_range, = db.rows(
                f'SELECT count(*) FROM "{table}" WHERE "{col}" >= ? AND "{col}" < ? '
                "AND dt BETWEEN ? AND ?", [start, end, d0, d1])[0]
            total, ingest = db.rows(f'SELECT count(*), max("_wl_ingest_time") FROM "{table}"')[0]
            row.update(rows_in_range=in_range, rows_total=total, newest_event=db.time_extent(table)[1],
                       newest_ingest=ingest)
        rows.append(row)
    return pl.DataFrame(rows, schema={
        "source": pl.String, "rows_in_range": pl.Int64, "rows_total": pl.Int64,
        "newest_event": pl.Datetime("us", "UTC"), "newest_ingest": pl.Datetime("us", "UTC")})


def volume(db: LakeDB, start: datetime, end: datetime, bucket: int) -> pl.DataFrame:
    """Events per time bucket and source over the range (columns: bucket, source, events)."""
    import polars as pl

    d0, d1 = dt_bounds(start, end)
    parts = []
    for table in RAW_TABLES:
        if not db.has(table):
            continue
        col = TIME_COLUMNS[table]
        parts.append(db.df(
            f"SELECT to_timestamp(floor(epoch(\"{col}\") / {bucket}) * {bucket}) AS bucket, "
            f"'{table}' AS source, count(*) AS events FROM \"{table}\" "
            f'WHERE "{col}" >= ? AND "{col}" < ? AND dt BETWEEN ? AND ? GROUP BY 1 ORDER BY 1',
            [start, end, d0, d1]))
    if not parts:
        return pl.DataFrame(schema={"bucket": pl.Datetime("us", "UTC"), "source": pl.String,
                                    "events": pl.Int64})
    return pl.concat(parts)


def rejected_summary(db: LakeDB) -> pl.DataFrame:
    """Rejected records (all time) by source, field and reason, most frequent first."""
    import polars as pl

    if not db.has("rejected"):
        return pl.DataFrame(schema={"source": pl.String, "field": pl.String, "reason": pl.String,
                                    "records": pl.Int64})
    return db.df("SELECT source, field, reason, count(*) AS records FROM rejected "
                 "GROUP BY ALL ORDER BY records DESC, source, field, reason LIMIT 200")


def rejected_recent(db: LakeDB, limit: int = 20) -> pl.DataFrame:
    """The newest rejected records with where they came from and why (raw cut to 200 chars)."""
    import polars as pl

    if not db.has("rejected"):
        return pl.DataFrame()

    frame = db.df("SELECT rejected_at, source, origin, line, field, reason, raw FROM rejected "
                  "ORDER BY rejected_at DESC NULLS LAST LIMIT ?", [limit])
    return frame.with_columns(pl.col("raw").map_elements(_raw_text, return_dtype=pl.String))


def _raw_text(value: str | None) -> str | None:
    """The loader stores rejected bytes base64-encoded; show them as (lossy) text, cut at 200."""
    if value is None:
        return None
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except ValueError:
        text = value
    return text if len(text) <= 200 else text[:200] + "…"


def storage(db: LakeDB) -> pl.DataFrame:
    """Files and bytes per lake table (from the file listing, no data read)."""
    import polars as pl

    frame = pl.DataFrame([{"table": f.table, "bytes": f.bytes} for f in db.files],
                         schema={"table": pl.String, "bytes": pl.Int64})
    return (frame.group_by("table").agg(pl.len().cast(pl.Int64).alias("files"), pl.col("bytes").sum())
            .sort("bytes", descending=True))
