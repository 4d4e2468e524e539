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
import pyarrow.compute as pc

from pipeline.errors import InputError
from pipeline.rollup import assemble, sql
from pipeline.rollup.merge import build_sketches, flat_entries, from_numpy, merge_lists, to_numpy
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


def _raw_rows(con: duckdb.DuckDBPyConnection, ids: pa.Table, files: list[str], period: int, lo: datetime,
              hi: datetime, percentiles: Patterns) -> pa.Table:
    """Raw datapoints → rows of ``period`` seconds (:func:`sql.raw_query` aggregates; the rows
    are put in output order here — series and bucket order inside each chunk file's run:
    :func:`assemble.chunk_major` — and their listed bins, plus the weighted samples of
    :func:`sql.weighted_query` when there are any, become the sketches)."""
    t = con.sql(sql.raw_query(files, period, lo, hi, percentiles)).arrow().read_all().combine_chunks()
    key = assemble.keys(assemble.ranks(ids, t["sid"]), t["b"])
    order = np.argsort(key)
    by_chunk = assemble.chunk_major(key[order], period)
    order = order[by_chunk]
    key = key[order]
    if percentiles == ():
        t = t.take(from_numpy(order))
        bins, counts = empty_sketches(t.num_rows)
        sketch_count = np.zeros(t.num_rows)
    elif not pc.sum(t["_nw"]).as_py():  # single datapoints only: each row's listed bins, in order
        bins, counts = merge_lists(t["_ub"], None, order, np.arange(t.num_rows + 1))
        sketch_count = to_numpy(pc.list_value_length(t["_ub"]), np.float64)[order]
        t = t.drop_columns(["_ub"]).take(from_numpy(order))
    else:
        t = t.take(from_numpy(order))
        rows, flat_bins, _ = flat_entries(t["_ub"], None)
        sketch_count = np.bincount(rows, minlength=t.num_rows).astype(np.float64)
        w = con.sql(sql.weighted_query(files, period, lo, hi, percentiles)).arrow().read_all()
        by_key = np.argsort(key)  # rows are in chunk order: find each sample's row by its key
        w_rows = by_key[np.searchsorted(key[by_key], assemble.keys(assemble.ranks(ids, w["sid"]), w["b"]))]
        w_counts = to_numpy(w["c"], np.float64)
        sketch_count += np.bincount(w_rows, weights=w_counts, minlength=t.num_rows)
        bins, counts = build_sketches(t.num_rows, np.concatenate([rows, w_rows]),
                                      np.concatenate([flat_bins, to_numpy(w["bn"], np.int64)]),
                                      np.concatenate([np.ones(len(rows)), w_counts]))
    columns = {c: t[c] for c in ("sample_count", "sum", "min", "max")}
    columns.update(sketch_bins=bins, sketch_bin_counts=counts, sketch_count=from_numpy(sketch_count))
    return assemble.table(ids, key >> 32, key & 0xFFFFFFFF, period, columns)


def rollup_table(con: duckdb.DuckDBPyConnection, kind: str, files: list[str], period: int,
                 lo: datetime, hi: datetime, percentiles: Patterns = None) -> pa.Table:
    """One rollup computed by DuckDB (aggregates) and numpy (order, identity, sketches:
    :mod:`pipeline.rollup.assemble`), in :data:`ROLLUP` schema, in ``SORT_KEYS`` order inside
    each chunk of the target tier (:func:`assemble.chunk_major`): ``raw`` datapoints or
    ``merge`` of a finer tier into buckets of ``period`` seconds, or CloudTrail ``activity``
    (1m). Sketches are built only for the namespaces ``percentiles`` names (all by default); see
    :mod:`pipeline.rollup.percentiles`."""
    if kind == "activity":
        return conform(con.sql(sql.activity_query(files, lo, hi)).arrow().read_all())
    if kind not in ("raw", "merge"):
        raise ValueError(f"unknown job kind {kind!r}")
    ids = con.sql(sql.ids_query(files, lo, hi)).arrow().read_all()
    if kind == "raw":
        return _raw_rows(con, ids, files, period, lo, hi, percentiles)
    src = con.sql(sql.merge_query(files, period, lo, hi)).arrow().read_all()
    if percentiles == ():  # no sketches anywhere: nothing to merge
        none = empty_sketches(src.num_rows)
        src = src.set_column(src.schema.get_field_index("sketch_bins"), "sketch_bins", none[0])
        src = src.set_column(src.schema.get_field_index("sketch_bin_counts"), "sketch_bin_counts", none[1])
    return assemble.merge_rows(ids, src, period)


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
            except duckdb.BinderException as exc:
                if job.kind != "merge" or "sketch_bin" not in str(exc):
                    raise
                raise InputError("cannot merge tier files without sketch_bins/sketch_bin_counts (written "
                                 "before the columnar sketch); rebuild them with `watchlake rollup --full`",
                                 path=task.folder, field="sketch_bins") from None
            yield task, table

    def close(self) -> None:
        self.con.close()
