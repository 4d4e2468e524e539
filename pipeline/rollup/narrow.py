"""Recomputing some series of a bucket instead of all of them: the cheap path for late data.

Late data is a few rows in a bucket that already holds every series (a 1m bucket at 20,000
datapoints/s holds 1.2 M rows); recomputing the whole bucket for them would cost a minute of
aggregation per late row's bucket. When a new file holds few rows in a bucket
(:data:`FEW_ROWS`), the step records *which series* they belong to, and recomputes only those
series' rows there: the engine gets a :class:`~pipeline.rollup.engine.Task` over a temporary
Parquet file holding every source row of those series in the task's range (from every source
file that overlaps it, so the recomputed rows are complete), and
:func:`pipeline.rollup.chunks.replace_runs` replaces just those (series, bucket) rows.

A set of series is a sorted tuple of series ids; ``None`` means every series (a whole bucket).
Affected buckets are kept as ``{bucket index: series}`` (:func:`add`), cut into runs of
consecutive buckets (:func:`runs_of`), and handed up the tiers as ranges (:func:`coalesce`,
:func:`widen`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.rollup.chunks import chunk_ms
from pipeline.rollup.engine import Task
from pipeline.rollup.schema import SERIES_ID
from pipeline.timeutil import iso

if TYPE_CHECKING:
    import duckdb

FEW_ROWS = 5000
"""A new file with at most this many rows in a bucket asks only for its series there."""

Series = tuple[str, ...] | None


def union(a: Series, b: Series) -> Series:
    """The series of both (``None``, every series, absorbs)."""
    if a is None or b is None:
        return None
    return tuple(sorted(set(a) | set(b)))


def runs_of(buckets: dict[int, Series], period: int) -> list[tuple[int, int, Series]]:
    """Consecutive bucket indexes as ``[lo, hi)`` epoch-ms runs with their series, cut at chunk
    boundaries and where whole buckets (``None``) meet buckets of a few series."""
    ms, span = period * 1000, chunk_ms(period)
    runs: list[tuple[int, int, Series]] = []
    for b in sorted(buckets):
        lo, series = b * ms, buckets[b]
        if runs and runs[-1][1] == lo and lo % span and (runs[-1][2] is None) == (series is None):
            runs[-1] = (runs[-1][0], lo + ms, union(runs[-1][2], series))
        else:
            runs.append((lo, lo + ms, series))
    return runs


def coalesce(entries: list[list[Any]]) -> list[tuple[int, int, float, Series]]:
    """Pending ranges ``[lo, hi, handed over at (epoch s), series or None]`` with overlaps merged
    (earliest time kept, series united), so a bucket rebuilt at every step stays one entry."""
    out: list[tuple[int, int, float, Series]] = []
    for e in sorted(entries, key=lambda e: (e[0], e[1])):
        lo, hi = int(e[0]), int(e[1])
        since = float(e[2]) if len(e) > 2 else 0.0
        series: Series = tuple(e[3]) if len(e) > 3 and e[3] is not None else None
        if out and lo < out[-1][1]:
            plo, phi, psince, pseries = out[-1]
            out[-1] = (plo, max(phi, hi), min(psince, since), union(pseries, series))
        else:
            out.append((lo, hi, since, series))
    return out


def widen(ranges: list[tuple[int, int, Series]], period: int) -> dict[int, Series]:
    """Bucket indexes of ``period`` meeting any of the epoch-ms ranges, with their series."""
    ms = period * 1000
    out: dict[int, Series] = {}
    for lo, hi, series in ranges:
        for b in range(lo // ms, -(-hi // ms)):
            out[b] = union(out[b], series) if b in out else series
    return out


def add(affected: dict[int, Series], b: int, series: Series) -> None:
    affected[b] = union(affected[b], series) if b in affected else series


def narrow(con: duckdb.DuckDBPyConnection, task: Task, series: Series, folder: str, n: int) -> Task:
    """``task`` restricted to ``series``: its files replaced by one temporary Parquet file
    ``folder/narrow-<n>.parquet`` with every source row of those series in ``[task.lo, task.hi)``
    (no file at all when there is none). ``series=None`` returns ``task`` unchanged."""
    if series is None or not task.files:
        return task
    path = os.path.join(folder, f"narrow-{n}.parquet")
    ids = pa.table({"sid": pa.array(series, pa.string())})
    con.register("narrow_ids", ids)
    try:
        files = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in task.files) + "]"
        rows = con.execute(f"""
            COPY (SELECT * FROM read_parquet({files}, union_by_name = true)
                  WHERE "timestamp" >= TIMESTAMPTZ '{iso(task.lo)}' AND "timestamp" < TIMESTAMPTZ '{iso(task.hi)}'
                    AND {SERIES_ID} IN (SELECT sid FROM narrow_ids))
            TO '{path}' (FORMAT PARQUET)""").fetchone()
    finally:
        con.unregister("narrow_ids")
    if not rows or not rows[0]:
        return replace(task, files=())
    return replace(task, files=(path,))


def only(rows: pa.Table, series: Series) -> pa.Table:
    """The rows of ``series`` (all when ``None``): an engine may return more than it was asked."""
    if series is None or not rows.num_rows:
        return rows
    import pyarrow.compute as pc

    return rows.filter(pc.is_in(rows[SERIES_ID], value_set=pa.array(series, pa.string())))
