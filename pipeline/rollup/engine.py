"""Rollup engines: the contract both engines meet, and the DuckDB engine.

An engine turns a :class:`Task` (the source files feeding one target partition and the time
range ``[lo, hi)`` to compute) into rollup rows in :data:`~pipeline.rollup.schema.ROLLUP`
order and schema. Engines never write to the lake; :mod:`pipeline.rollup.runner` does.
The PyFlink engine lives in ``jobs/flink_rollup.py`` (it needs the JVM).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa

from pipeline.errors import InputError
from pipeline.rollup import sql
from pipeline.rollup.merge import build_sketches, flat_entries, merge_sketches
from pipeline.rollup.percentiles import Patterns
from pipeline.rollup.schema import ROLLUP, SERIES_ID, empty_sketches
from pipeline.rollup.tiers import Job

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Task:
    """Compute ``job`` for one target partition over ``[lo, hi)`` from ``files`` (lake URIs)."""

    folder: str                   # target partition folder, relative to the lake root
    values: dict[str, str]        # its partition values
    files: tuple[str, ...]
    lo: datetime
    hi: datetime
    percentiles: Patterns = None  # namespaces that keep sketches (pipeline.rollup.percentiles)


class Engine(Protocol):
    name: str

    def compute(self, job: Job, tasks: list[Task]) -> Iterator[tuple[Task, pa.Table]]:
        """Yield ``(task, rows)`` for every task (rows may be empty)."""
        ...

    def close(self) -> None: ...


def conform(table: pa.Table) -> pa.Table:
    """Cast an engine's result to the exact :data:`ROLLUP` schema (ms timestamps)."""
    table = table.select(ROLLUP.names)
    return table.cast(ROLLUP)


def _with_sketches(stats: pa.Table, bins: pa.Array, counts: pa.Array) -> pa.Table:
    keep = [c for c in stats.column_names if c not in ("_rb", "_ub", "_wb", "_wc")]
    return conform(stats.select(keep).append_column("sketch_bins", bins).append_column("sketch_bin_counts", counts))


def _raw_sketches(t: pa.Table) -> tuple[pa.Array, pa.Array]:
    """The sketches of the raw query's rows from their listed bins (:func:`sql.raw_query`)."""
    rows, bins, _ = flat_entries(t["_ub"], None)
    w_rows, w_bins, w_counts = flat_entries(t["_wb"], t["_wc"])
    if not len(w_bins):
        return build_sketches(t.num_rows, rows, bins)
    return build_sketches(t.num_rows, np.concatenate([rows, w_rows]), np.concatenate([bins, w_bins]),
                          np.concatenate([np.ones(len(bins)), w_counts if w_counts is not None else []]))


def rollup_table(con: duckdb.DuckDBPyConnection, kind: str, files: list[str], period: int,
                 lo: datetime, hi: datetime, percentiles: Patterns = None) -> pa.Table:
    """One rollup computed by DuckDB (and numpy for the sketches), in :data:`ROLLUP` schema and
    order: ``raw`` datapoints or ``merge`` of a finer tier into buckets of ``period`` seconds, or
    CloudTrail ``activity`` (1m). Sketches are built only for the namespaces ``percentiles``
    names (all by default); see :mod:`pipeline.rollup.percentiles`."""
    if kind == "raw":
        t = con.sql(sql.raw_query(files, period, lo, hi, percentiles)).arrow().read_all()
        if percentiles == ():
            return _with_sketches(t, *empty_sketches(t.num_rows))
        return _with_sketches(t, *_raw_sketches(t))
    if kind == "merge":
        stats = con.sql(sql.merge_stats_query(files, period, lo, hi)).arrow().read_all()
        if percentiles == ():  # no sketches anywhere: nothing to merge
            return _with_sketches(stats, *empty_sketches(stats.num_rows))
        rows = con.sql(sql.merge_rows_query(files, period, lo, hi)).arrow().read_all()
        bins, counts = merge_sketches(stats["_rb"], rows["_rb"], rows["sketch_bins"], rows["sketch_bin_counts"])
        return _with_sketches(stats, bins, counts)
    if kind == "activity":
        return conform(con.sql(sql.activity_query(files, lo, hi)).arrow().read_all())
    raise ValueError(f"unknown job kind {kind!r}")


class DuckDBEngine:
    """Rollups as DuckDB SQL over the source Parquet files (:mod:`pipeline.rollup.sql`); sketches
    finished in numpy (:mod:`pipeline.rollup.merge`)."""

    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        import duckdb

        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def compute(self, job: Job, tasks: list[Task]) -> Iterator[tuple[Task, pa.Table]]:
        import duckdb

        for task in tasks:
            if not task.files or task.lo >= task.hi:
                yield task, ROLLUP.empty_table()
                continue
            try:
                table = rollup_table(self.con, job.kind, list(task.files), job.period, task.lo, task.hi,
                                     task.percentiles)
            except duckdb.ConversionException as exc:
                raise InputError(f"cannot roll up: {str(exc).splitlines()[0]} (series ids must be the "
                                 "16 hex digits of pipeline.sources.cloudwatch.series_id)",
                                 path=task.folder, field=SERIES_ID) from None
            yield task, table

    def close(self) -> None:
        self.con.close()
