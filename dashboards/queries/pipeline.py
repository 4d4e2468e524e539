"""The pipeline's own health: the status ``watchlake run`` keeps, and its ``Watchlake/Pipeline``
metrics per stage over time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dashboards.lakedb import LakeDB
from dashboards.timerange import dt_bounds

if TYPE_CHECKING:
    import polars as pl

NAMESPACE = "Watchlake/Pipeline"
STATUS_PATH = "_state/run/status.json"  # jobs.run.health.STATUS_PATH (the UI never imports jobs)


def status(db: LakeDB) -> dict[str, Any] | None:
    """The status document of the last or running ``watchlake run`` (None when it never ran here)."""
    lake = db.lake
    return lake.read_json(STATUS_PATH) if lake.exists(STATUS_PATH) else None  # type: ignore[no-any-return]


def stage_series(db: LakeDB, start: datetime, end: datetime) -> pl.DataFrame:
    """Per minute and stage: records in and out, rejects, errors (sums) and the largest lag."""
    import polars as pl

    empty = pl.DataFrame(schema={"minute": pl.Datetime("us", "UTC"), "stage": pl.String, "records_in": pl.Float64,
                                 "records_out": pl.Float64, "rejected": pl.Float64, "errors": pl.Float64,
                                 "lag_seconds": pl.Float64})
    if not db.has("metrics"):
        return empty
    d0, d1 = dt_bounds(start, end)
    return db.df(
        "SELECT date_trunc('minute', \"timestamp\") AS minute, json_extract_string(dimensions, '$.Stage') AS stage, "
        "sum(sum) FILTER (metric_name = 'RecordsIn') AS records_in, "
        "sum(sum) FILTER (metric_name = 'RecordsOut') AS records_out, "
        "sum(sum) FILTER (metric_name = 'Rejected') AS rejected, "
        "sum(sum) FILTER (metric_name = 'Errors') AS errors, "
        "max(max) FILTER (metric_name = 'Lag') AS lag_seconds "
        "FROM metrics WHERE namespace = ? AND \"timestamp\" >= ? AND \"timestamp\" < ? AND dt BETWEEN ? AND ? "
        "AND json_extract_string(dimensions, '$.Stage') IS NOT NULL GROUP BY ALL ORDER BY minute, stage",
        [NAMESPACE, start, end, d0, d1])
