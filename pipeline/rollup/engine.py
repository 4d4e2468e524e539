"""Rollup engines: the contract both engines meet, and the DuckDB engine.

An engine turns a :class:`Task` (the source files feeding one target partition and the time
range ``[lo, hi)`` to compute) into rollup rows in :data:`~pipeline.rollup.schema.ROLLUP`
order and schema. Engines never write to the lake; :mod:`pipeline.rollup.runner` does.
The PyFlink engine lives in ``jobs/flink_rollup.py`` (it needs the JVM).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa

from pipeline.errors import InputError
from pipeline.rollup import assemble, carry, rawgroup, sql
from pipeline.rollup.merge import build_sketches, flat_entries, from_numpy, list_values, merge_counted, to_numpy
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
    rows: tuple[pa.Table, ...] | None = field(default=None, compare=False, repr=False)
    """The contents of ``files``, in the same order, still in memory (:mod:`pipeline.rollup.carry`):
    an engine may merge these instead of reading the files (the DuckDB engine does)."""
    layout: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False, repr=False)
    """Per bucket start (epoch ms), the start of the file its rows will be written to
    (:func:`pipeline.rollup.chunks.layout`): an engine that orders its rows by it, then by series
    and bucket, has each file's rows as one run, already sorted (the DuckDB engine does; ``None``:
    by chunk, :func:`assemble.chunk_major`)."""
    ready: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    """Call before reading ``files``: some are still being written (:mod:`pipeline.rollup.commits`);
    ``rows`` need no wait."""


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


def _ordered(key: np.ndarray, period: int, sorted_by: np.ndarray | None = None,
             layout: Callable[[np.ndarray], np.ndarray] | None = None, distinct: bool = False
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, key[order], starts)`` for rows with row keys ``key`` (:func:`assemble.keys`): the
    output order (series and bucket order inside each file's run: :attr:`Task.layout`, by
    default :func:`assemble.chunk_major`) and the starts of its runs of equal keys, with the end
    appended (rows of one bucket, adjacent in that order). ``sorted_by``: ``key`` is already
    sorted, and this permutation of the rows gave that order. ``distinct``: the keys are likely
    all different (the raw tier's groups), so any sort gives the stable order — checked, and
    sorted stably when some repeat (a third of the time of a stable sort of 1.7 M random keys)."""
    if sorted_by is None:
        given = key
        order = np.argsort(given, kind=None if distinct else "stable")
        key = given[order]
        if distinct and len(key) > 1 and not bool((key[1:] != key[:-1]).all()):
            order = np.argsort(given, kind="stable")
            key = given[order]
    else:
        order = sorted_by
    by_chunk = assemble.chunk_major(key, period, layout)
    order, key = order[by_chunk], key[by_chunk]
    if not len(key):
        return order, key, np.zeros(1, np.int64)
    new = np.empty(len(key), dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    return order, key, np.append(np.flatnonzero(new), len(key))


def _raw_rows(con: duckdb.DuckDBPyConnection, ids_table: pa.Table, ids: str, files: list[str], period: int,
              lo: datetime, hi: datetime, percentiles: Patterns, layout: Callable[[np.ndarray], np.ndarray] | None
              ) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Raw datapoints → the row keys and columns of rows of ``period`` seconds, in output order
    (:func:`_ordered`): :func:`sql.raw_query` aggregates and lists each row's entries; the listed
    bins, plus the weighted samples of :func:`sql.weighted_query` when some entry says there are
    any, become the sketches (:func:`merge_lists`, markers skipped)."""
    t = con.sql(sql.raw_query(files, period, lo, hi, percentiles, ids)).arrow().read_all()
    order, key, starts = _ordered(to_numpy(t["key"], np.int64), period, layout=layout, distinct=True)
    if len(starts) - 1 == t.num_rows:  # one source group per row (always, unless an id is spelt two ways)
        columns = {c: t[c].take(from_numpy(order)) for c in ("sample_count", "sum", "min", "max")}
    else:
        columns = assemble.partials(t, order, starts)
    n = len(starts) - 1
    if percentiles == ():
        bins, counts = empty_sketches(n)
        sketch_count = np.zeros(n)
    elif not any(bool((to_numpy(v, np.int32) == sql.WEIGHTED).any()) for v in list_values(t["_ub"])):
        # single datapoints only: each row's listed bins
        bins, counts, sketch_count = merge_counted(t["_ub"], None, order, starts, floor=sql.MARKERS_BELOW)
    else:
        rows, flat_bins, _ = flat_entries(t["_ub"], None)
        listed = flat_bins >= sql.MARKERS_BELOW
        row_of = np.empty(t.num_rows, np.int64)  # each source row's output row
        row_of[order] = np.repeat(np.arange(n), np.diff(starts))
        rows, flat_bins = row_of[rows[listed]], flat_bins[listed]
        w = con.sql(sql.weighted_query(files, period, lo, hi, percentiles)).arrow().read_all()
        w_rows = _row_of_key(key[starts[:-1]], assemble.keys(assemble.ranks(ids_table, w["sid"]), w["b"]))
        w_counts = to_numpy(w["c"], np.float64)
        sketch_count = (np.bincount(rows, minlength=n).astype(np.float64)
                        + np.bincount(w_rows, weights=w_counts, minlength=n))
        bins, counts = build_sketches(n, np.concatenate([rows, w_rows]),
                                      np.concatenate([flat_bins, to_numpy(w["bn"], np.int64)]),
                                      np.concatenate([np.ones(len(rows)), w_counts]))
    columns.update(sketch_bins=bins, sketch_bin_counts=counts, sketch_count=from_numpy(sketch_count))
    return key[starts[:-1]], columns


def _grouped(ids: pa.Table, g: rawgroup.Groups, period: int, percentiles: Patterns,
             layout: Callable[[np.ndarray], np.ndarray] | None) -> pa.Table:
    """The rows of :func:`_raw_rows` from the groups of :func:`rawgroup.groups` (the same rows as
    the SQL), as :func:`assemble.table` puts them together."""
    if g.order is not None:
        order, key, starts = _ordered(g.key[g.order], period, sorted_by=g.order, layout=layout)
    else:
        order, key, starts = _ordered(g.key, period, layout=layout, distinct=not g.repeats)
    n = len(starts) - 1
    sketches = None
    if percentiles != ():  # built on a thread (the native merge releases the GIL) while the partials are
        from concurrent.futures import ThreadPoolExecutor

        dest = np.empty(len(g.key), np.int32)  # each group's output row
        dest[order] = np.repeat(np.arange(n, dtype=np.int32), np.diff(starts))
        pool = ThreadPoolExecutor(1, thread_name_prefix="wl-sketch")
        sketches = pool.submit(g.sketches, dest, n)
        pool.shutdown(wait=False)
    if n == len(g.key):  # one group per row: rows came in time order
        columns = {c: from_numpy(v[order]) for c, v in g.partials.items()}
    else:
        columns = assemble.partials(pa.table({c: from_numpy(v) for c, v in g.partials.items()}), order, starts)
    key = key[starts[:-1]]
    ident = assemble.identity(ids, key >> 32, key & 0xFFFFFFFF, period)
    if sketches is None:
        bins, counts = empty_sketches(n)
        sketch_count = np.zeros(n)
    else:
        bins, counts, sketch_count = sketches.result()
    columns.update(sketch_bins=bins, sketch_bin_counts=counts, sketch_count=from_numpy(sketch_count))
    return assemble.finish(ident, columns)


def _row_of_key(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Per ``wanted`` key, its position in ``keys`` (distinct, in any order; every wanted key is
    one of them)."""
    by_key = np.argsort(keys)
    return np.asarray(by_key[np.searchsorted(keys[by_key], wanted)], np.int64)


def rollup_table(con: duckdb.DuckDBPyConnection, kind: str, files: list[str], period: int,
                 lo: datetime, hi: datetime, percentiles: Patterns = None,
                 tables: tuple[pa.Table, ...] | None = None,
                 layout: Callable[[np.ndarray], np.ndarray] | None = None,
                 ready: Callable[[], None] | None = None) -> pa.Table:
    """One rollup computed by DuckDB (aggregates) and numpy/C (order, identity, sketches:
    :mod:`pipeline.rollup.assemble`), in :data:`ROLLUP` schema, in ``SORT_KEYS`` order inside
    each file of the target tier (``layout``: :attr:`Task.layout`; by default each chunk,
    :func:`assemble.chunk_major`): ``raw`` datapoints or
    ``merge`` of a finer tier into buckets of ``period`` seconds, or CloudTrail ``activity``
    (1m). Sketches are built only for the namespaces ``percentiles`` names (all by default); see
    :mod:`pipeline.rollup.percentiles`. ``raw`` datapoints are grouped by the native pass of
    :mod:`pipeline.rollup.rawgroup` where it applies (the same rows); otherwise the series ranks are
    registered on ``con`` for :func:`sql.raw_query`'s join while it runs (under a name of their
    own, unregistered after).
    ``tables``: the contents of ``files`` of a ``merge`` in memory, used instead of reading them
    (:func:`pipeline.rollup.carry.sources`: the same rows). ``ready``: called before ``files``
    are read (:attr:`Task.ready`)."""
    if kind == "merge" and tables is not None:
        from_memory = carry.sources(tables, period, lo, hi)
        if from_memory is not None:
            return _merged(*from_memory, period, percentiles, layout)
    if ready is not None:
        ready()
    if kind == "activity":
        return conform(con.sql(sql.activity_query(files, lo, hi)).arrow().read_all())
    if kind not in ("raw", "merge"):
        raise ValueError(f"unknown job kind {kind!r}")
    if kind == "raw":
        fast = rawgroup.groups(files, period, lo, hi, percentiles)
        if fast is not None:  # the usual raw datapoints: one native pass (its own series table)
            return _grouped(*fast, period, percentiles, layout)
    ids = con.sql(sql.ids_query(files, lo, hi)).arrow().read_all()
    if kind == "raw":
        name = f"_wl_ids_{next(_NAMES)}"
        con.register(name, ids.append_column("rank", from_numpy(np.arange(ids.num_rows, dtype=np.int64))))
        try:
            key, columns = _raw_rows(con, ids, name, files, period, lo, hi, percentiles, layout)
        finally:
            con.unregister(name)
        return assemble.table(ids, key >> 32, key & 0xFFFFFFFF, period, columns)
    return _merged(ids, con.sql(sql.merge_query(files, period, lo, hi)).arrow().read_all(), period, percentiles,
                   layout)


def _merged(ids: pa.Table, src: pa.Table, period: int, percentiles: Patterns,
            layout: Callable[[np.ndarray], np.ndarray] | None = None) -> pa.Table:
    """The rows of a finer tier (:func:`sql.merge_query`'s columns, series ``ids``) merged into
    buckets of ``period`` seconds."""
    if percentiles == ():  # no sketches anywhere: nothing to merge
        none = empty_sketches(src.num_rows)
        src = src.set_column(src.schema.get_field_index("sketch_bins"), "sketch_bins", none[0])
        src = src.set_column(src.schema.get_field_index("sketch_bin_counts"), "sketch_bin_counts", none[1])
    order, key, starts = _ordered_runs(assemble.keys(assemble.ranks(ids, src["sid"]), src["b"]), period, layout)
    return assemble.merge_rows(ids, src, order, key, starts, period)


def _ordered_runs(key: np.ndarray, period: int, layout: Callable[[np.ndarray], np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_ordered` of a finer tier's rows, ordering their runs of equal keys instead of
    the rows: source files hold each series' rows in time order, so a coarser bucket's rows
    mostly come as one run (five 1m rows of a 5m bucket). The runs are put in output order by a
    stable sort (a key split over several runs — several files — keeps them in file order), then
    each run's rows in place: the same order as a stable sort of the rows, a fifth of the keys
    sorted."""
    n = len(key)
    if n < 2:
        return _ordered(key, period, layout=layout)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    heads = np.flatnonzero(new)
    del new
    by_run, run_key, run_starts = _ordered(key[heads], period, layout=layout)
    length = np.diff(np.append(heads, n))[by_run]
    first = heads[by_run]  # each run's first row, runs in output order
    ends = np.cumsum(length)
    order = np.arange(n, dtype=np.int64)
    order += np.repeat(first - (ends - length), length)  # row j of run r: first[r] + j
    starts = np.append(0, ends)[run_starts]
    return order, np.repeat(run_key, length), starts


_NAMES = itertools.count()


def release_memory() -> None:
    """Hand the memory DuckDB freed back to the OS. DuckDB's allocator (jemalloc) keeps freed
    pages until more DuckDB work or a database closing flushes them; after the raw tier's query
    (~0.6 GB at 10 M points) nothing may run DuckDB again for a while (the coarser tiers merge in
    memory: :mod:`pipeline.rollup.carry`), so that memory would stay resident under the next
    jobs' and add to the run's peak. Closing a database flushes it (DuckDB PR #11130)."""
    import duckdb

    duckdb.connect().close()


class DuckDBEngine:
    """Rollups as DuckDB SQL over the source Parquet files (:mod:`pipeline.rollup.sql`); sketches
    finished in numpy (:mod:`pipeline.rollup.merge`)."""

    name = "duckdb"
    merges_rows = True  # a merge task's Task.rows are merged instead of its files

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
                                     task.percentiles, task.rows, task.layout, task.ready)
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
            if job.kind == "raw":
                release_memory()
            yield task, table

    def close(self) -> None:
        self.con.close()
