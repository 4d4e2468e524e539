"""A tier's rows still in memory: the source of the next job of the same run, not re-read from
the files just written.

In one batch run of the chain (:func:`pipeline.rollup.runner.run_rollups`) the ``1m→5m`` job
reads what ``metrics→1m`` (and ``cloudtrail→1m``) wrote a moment ago, and ``5m→1h`` what
``1m→5m`` wrote. :class:`Carry` keeps each file's table exactly as it was handed to the Parquet
writer (sorted as written), by lake-relative path, for the tables a later job of the run reads;
a merge task whose source files are all kept gets their tables (:attr:`Task.rows
<pipeline.rollup.engine.Task>`), and :func:`sources` derives from them what the SQL of
:func:`pipeline.rollup.sql.ids_query` and :func:`~pipeline.rollup.sql.merge_query` derive from
the files: the same series ranks, and the same source rows in the same order, so the merged rows
are the same bit for bit (``tests/pipeline/rollup/test_carry.py`` compares a chain run in one
call with one run job by job from the files).

A file is kept only while some later job of the run reads its table (:meth:`Carry.keep_only`)
and within a memory budget (:data:`BUDGET_BYTES`, oldest forgotten first), and a file retired by
a later commit of the run is forgotten; files the run did not write are read from the lake as
always (a task is served from memory only when all its files are kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from pipeline.rollup.merge import from_numpy, to_numpy
from pipeline.rollup.schema import SERIES_ID
from pipeline.timeutil import EPOCH

_HEX = np.full(256, 255, np.uint8)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10, dtype=np.uint8)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
IDENTITY = ["namespace", "metric_name", "dimensions", "unit"]
"""A series' identity columns besides its id, in output order."""


BUDGET_BYTES = 1 << 30
"""At most this many bytes of tables are kept (the oldest files are forgotten first). A first
build of one day (10 M points, 10 k series) keeps its whole 1m tier (~0.4 GB), so its 5m and 1h
merge from memory; a first build of many days keeps the last days written, and its memory peak
grows by at most this much."""


class Carry:
    """The tables of the files this run wrote, for the tables some later job of the run reads,
    up to :data:`BUDGET_BYTES` (the oldest forgotten first)."""

    def __init__(self, tables: Iterable[str], budget: int | None = None) -> None:
        self.tables = set(tables)
        self.budget = BUDGET_BYTES if budget is None else budget
        self.files: dict[str, dict[str, pa.Table]] = {}
        self._sizes: dict[tuple[str, str], int] = {}  # (table, rel) → bytes, oldest first
        self.held = 0

    def _forget(self, table: str, rel: str) -> None:
        self.held -= self._sizes.pop((table, rel), 0)
        self.files.get(table, {}).pop(rel, None)

    def record(self, table: str, written: dict[str, pa.Table | None]) -> None:
        """After a commit on ``table``: ``written`` maps each file it added to its rows as written,
        and each file it retired to ``None``."""
        if table not in self.tables:
            return
        files = self.files.setdefault(table, {})
        for rel, rows in written.items():
            self._forget(table, rel)
            if rows is not None:
                files[rel] = rows
                self._sizes[table, rel] = rows.nbytes
                self.held += rows.nbytes
        while self.held > self.budget:
            self._forget(*next(iter(self._sizes)))

    def rows(self, table: str, rels: list[str]) -> tuple[pa.Table, ...] | None:
        """The tables of ``rels`` (files of ``table``), in that order; ``None`` unless all are kept."""
        files = self.files.get(table, {})
        if not rels or any(r not in files for r in rels):
            return None
        return tuple(files[r] for r in rels)

    def keep_only(self, tables: Iterable[str]) -> None:
        """Forget the files of every table not in ``tables`` (no later job reads them)."""
        self.tables &= set(tables)
        for table, rel in list(self._sizes):
            if table not in self.tables:
                self._forget(table, rel)
        self.files = {t: f for t, f in self.files.items() if t in self.tables}


def parse_ids(a: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """Series ids of 16 hex digits as uint64 (what SQL's ``CAST('0x' || id AS UBIGINT)`` gives);
    ``None`` when some id is null, not 16 characters or not hex (the SQL path reports it)."""
    parts = []
    for c in (a.chunks if isinstance(a, pa.ChunkedArray) else [a]):
        if c.null_count or not pa.types.is_string(c.type):
            return None
        if not len(c):
            continue
        off = np.frombuffer(c.buffers()[1], np.int32, count=len(c) + 1, offset=c.offset * 4)
        if not bool((np.diff(off) == 16).all()):
            return None
        data = np.frombuffer(c.buffers()[2], np.uint8, count=int(off[-1] - off[0]), offset=int(off[0]))
        nib = _HEX[data.reshape(-1, 16)]
        if int(nib.max()) > 15:
            return None
        packed = np.ascontiguousarray((nib[:, 0::2] << 4) | nib[:, 1::2])
        parts.append(packed.view(">u8").ravel().astype(np.uint64))
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def hex_ids(sid: np.ndarray) -> pa.Array:
    """``printf('%016x', sid)``: uint64 series ids as 16 lowercase hex digits."""
    n = len(sid)
    by = np.ascontiguousarray(sid.astype(">u8")).view(np.uint8).reshape(n, 8)
    nib = np.empty((n, 16), np.uint8)
    nib[:, 0::2], nib[:, 1::2] = by >> 4, by & 15
    offsets = np.arange(0, 16 * (n + 1), 16, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(_DIGITS[nib].tobytes())])


def _run_ids(col: pa.ChunkedArray) -> np.ndarray | None:
    """:func:`parse_ids` of every row, parsing each run of equal ids once (a tier's rows come
    in runs of one series: a tenth of the rows or fewer start one)."""
    import pyarrow.compute as pc

    n = len(col)
    if n < 2 or col.null_count:
        return parse_ids(col)
    new = np.ones(n, dtype=bool)
    new[1:] = to_numpy(pc.cast(pc.not_equal(col.slice(1), col.slice(0, n - 1)), pa.uint8()), np.uint8) != 0
    heads = np.flatnonzero(new)
    first = parse_ids(take_rows(pa.table({"c": col}), heads)["c"])
    return None if first is None else np.repeat(first, np.diff(np.append(heads, n)))


def take_rows(t: pa.Table, rows: np.ndarray) -> pa.Table:
    """``t.take(rows)``, reading each of ``t``'s record batches for the rows it holds: pyarrow's
    take over a table of many chunks first combines each column whole (10 k identities out of the
    1.7 M rows of 119 chunked 1m files: 40 ms, against 2 ms here)."""
    batches = t.to_batches()
    if len(batches) < 2 or not len(rows):
        return t.take(from_numpy(np.asarray(rows, np.int64)))
    bounds = np.cumsum([0] + [b.num_rows for b in batches])
    by_row = np.argsort(rows, kind="stable")
    ordered = np.asarray(rows, np.int64)[by_row]
    which = np.searchsorted(bounds, ordered, side="right") - 1
    cuts = np.searchsorted(which, np.arange(len(batches) + 1))
    parts = [batches[b].take(from_numpy(ordered[cuts[b]:cuts[b + 1]] - bounds[b]))
             for b in range(len(batches)) if cuts[b] < cuts[b + 1]]
    back = np.empty(len(rows), np.int64)
    back[by_row] = np.arange(len(rows))
    return pa.Table.from_batches(parts, t.schema).combine_chunks().take(from_numpy(back))


def _us(t: datetime) -> int:
    return (t - EPOCH) // timedelta(microseconds=1)


def sources(tables: tuple[pa.Table, ...], period: int, lo: datetime, hi: datetime) -> tuple[pa.Table, pa.Table] | None:
    """``(ids, src)`` from the rows of a finer tier's files (``tables``, in the order of the
    files), as :func:`pipeline.rollup.sql.ids_query` and :func:`~pipeline.rollup.sql.merge_query`
    give them from the files: rows with ``lo <= timestamp < hi``, in order, with ``sid`` and the
    bucket index ``b`` of ``period`` seconds; one ``ids`` row per series in output order
    (namespace, metric, dimensions, unit, sid), with the identity of its first row. ``None`` when
    the SQL path must decide (a series id that is not 16 hex digits, a time before 1970)."""
    t = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    ms = to_numpy(t["timestamp"].cast(pa.int64()), np.int64)
    inside = (ms * 1000 >= _us(lo)) & (ms * 1000 < _us(hi))
    if not inside.all():
        t, ms = t.filter(from_numpy(inside)), ms[inside]
    if len(ms) and int(ms.min()) < 0:  # SQL's // truncates where numpy's floors
        return None
    sid = _run_ids(t[SERIES_ID])
    if sid is None:
        return None
    heads = np.flatnonzero(np.concatenate(([True], sid[1:] != sid[:-1]))) if len(sid) else np.zeros(0, np.int64)
    uniq, first = np.unique(sid[heads], return_index=True)
    ids, _ = ranked_ids(take_rows(t.select(IDENTITY), heads[first]), uniq)
    src = t.select(["sample_count", "sum", "min", "max", "sketch_count", "sketch_bins", "sketch_bin_counts"])
    src = src.append_column("sid", from_numpy(sid)).append_column("b", from_numpy(ms // (period * 1000)))
    return ids, src


def ranked_ids(ident: pa.Table, sid: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """The series ``ident`` (identity columns, one row per series) with their ids ``sid`` as
    :func:`pipeline.rollup.sql.ids_query` gives them — in output order (namespace, metric,
    dimensions, unit, sid; nulls last), with ``sid`` and the id as 16 hex digits — and the
    permutation of ``ident``'s rows that gives that order."""
    ident = ident.append_column("sid", from_numpy(sid))
    order = _order(ident)
    ident = ident.take(order)
    return ident.append_column(SERIES_ID, hex_ids(to_numpy(ident["sid"], np.uint64))), to_numpy(order, np.int64)


def _order(ident: pa.Table) -> pa.Array:
    import pyarrow.compute as pc

    return pc.sort_indices(ident, sort_keys=[(c, "ascending") for c in [*IDENTITY, "sid"]])
