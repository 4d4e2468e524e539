"""Putting rollup rows together in numpy/Arrow: output order, series identity, merged partials.

The SQL of :mod:`pipeline.rollup.sql` groups on the series id and an integer bucket index and
returns no identity strings; sorting 1–2 M result rows with their sketch lists, and joining the
identity strings to every row, cost DuckDB more than the aggregate itself. Here the series
identities (one row per series, :func:`pipeline.rollup.sql.ids_query`) are ranked in output
order (namespace, metric, dimensions, unit), every row gets the int64 key ``rank · 2³² + bucket``
(the raw query joins the ranks in SQL; :func:`ranks` looks them up for tier rows, once per run of
one series), one ``argsort`` of those keys gives the output order, and the identity columns are
``take``\\ n from the small identity table. For the coarser tiers the source rows are read as they are and merged
here as well: ``reduceat`` over runs of equal keys adds the partials (SampleCount and Sum add,
Minimum/Maximum take the min/max — never an average of averages) and
:func:`pipeline.rollup.merge.merge_lists` adds the sketches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from pipeline.rollup.carry import IDENTITY
from pipeline.rollup.merge import from_numpy, merge_lists, to_numpy
from pipeline.rollup.schema import ROLLUP, SERIES_ID, SORT_KEYS

_IDENTITY = [SERIES_ID, *IDENTITY]


def _u64(a: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return to_numpy(a, np.uint64)


def ranks(ids: pa.Table, sid: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per row, the index in ``ids`` (sorted in output order) of its series id ``sid``."""
    id_sid = _u64(ids["sid"])
    by_sid = np.argsort(id_sid)
    want = _u64(sid)
    if len(want) < 2:
        return np.asarray(by_sid[np.searchsorted(id_sid[by_sid], want)], dtype=np.int64)
    # rows of one series come in runs (tier files are sorted by series): look up each run once
    heads = np.flatnonzero(np.concatenate(([True], want[1:] != want[:-1])))
    if len(heads) * 4 > len(want):
        return np.asarray(by_sid[np.searchsorted(id_sid[by_sid], want)], dtype=np.int64)
    found = np.asarray(by_sid[np.searchsorted(id_sid[by_sid], want[heads])], dtype=np.int64)
    return np.repeat(found, np.diff(np.append(heads, len(want))))


def keys(rank: np.ndarray, bucket: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The int64 row key ``rank · 2³² + bucket index`` (increasing in output order)."""
    return (rank << 32) + to_numpy(bucket, np.int64)


def chunk_major(key: np.ndarray, period: int, layout: Callable[[np.ndarray], np.ndarray] | None = None
                ) -> np.ndarray:
    """The stable permutation that puts rows sorted by :func:`keys` in file order: by the file of
    their bucket (``layout``: per bucket start in epoch ms, its file's start, as
    :func:`pipeline.rollup.chunks.layout` gives; by default the chunk of the bucket,
    :mod:`pipeline.rollup.chunks`), then as they were (series, bucket). Each file's rows are then
    one run, which :func:`pipeline.rollup.chunks.split` writes as a slice instead of gathering
    them from all over the table."""
    from pipeline.rollup.chunks import CHUNK_BUCKETS, distinct_buckets, order_by

    if not len(key):
        return np.zeros(0, np.int64)
    buckets, which = distinct_buckets((key & 0xFFFFFFFF) * (period * 1000), period)
    if layout is None:
        return order_by(buckets // (period * 1000) // CHUNK_BUCKETS.get(period, 10), which)[0]
    at = layout(buckets)
    if int(at.min()) == int(at.max()):  # one file (a closed partition): as they are
        return np.arange(len(key))
    return order_by(at, which)[0]


def table(ids: pa.Table, rank: np.ndarray, bucket: np.ndarray, period: int, columns: dict[str, pa.Array]
          ) -> pa.Table:
    """A table in :data:`~pipeline.rollup.schema.ROLLUP` schema: identity from ``ids`` at
    ``rank``, bucket start ``bucket · period``, the other ``columns`` as given (same length)."""
    return finish(identity(ids, rank, bucket, period), columns)


def identity(ids: pa.Table, rank: np.ndarray, bucket: np.ndarray, period: int) -> dict[str, pa.Array]:
    """The identity and time columns of :func:`table` (series from ``ids`` at ``rank``, bucket
    start ``bucket · period``)."""
    out: dict[str, pa.Array] = {c: ids[c].take(from_numpy(rank)) for c in _IDENTITY}
    out["timestamp"] = from_numpy((bucket * (period * 1000)).astype(np.int64)).cast(ROLLUP.field("timestamp").type)
    out["period"] = from_numpy(np.full(len(bucket), period, dtype=np.int32))
    return out


def finish(ident: dict[str, pa.Array], columns: dict[str, pa.Array]) -> pa.Table:
    """:func:`table` from the columns of :func:`identity` and the other ``columns``."""
    out = {**ident, **columns}
    return pa.table([out[name] for name in ROLLUP.names], schema=ROLLUP)


def partials(src: pa.Table, order: np.ndarray, starts: np.ndarray) -> dict[str, pa.Array]:
    """The partials of groups of ``src`` rows — group ``g`` is rows ``order[starts[g]] …
    order[starts[g + 1] − 1]`` — merged: SampleCount and Sum add, Minimum/Maximum take the
    min/max (never an average of averages)."""
    heads = starts[:-1]

    def col(name: str) -> np.ndarray:
        return to_numpy(src[name], np.float64)[order]

    return {"sample_count": from_numpy(np.add.reduceat(col("sample_count"), heads)),
            "sum": from_numpy(np.add.reduceat(col("sum"), heads)),
            "min": from_numpy(np.fmin.reduceat(col("min"), heads)),
            "max": from_numpy(np.fmax.reduceat(col("max"), heads))}


def merge_rows(ids: pa.Table, src: pa.Table, order: np.ndarray, key: np.ndarray, starts: np.ndarray,
               period: int) -> pa.Table:
    """Rows of a finer tier (partials and sketch) merged into buckets of ``period`` seconds, in
    output order: ``order`` puts the rows in output order, ``key`` are their row keys
    (:func:`keys`) in that order and ``starts`` the starts of its runs of equal keys, with the end
    appended (``pipeline.rollup.engine._ordered``)."""
    if not len(key):
        return ROLLUP.empty_table()
    heads = starts[:-1]
    sk_bins, sk_counts = merge_lists(src["sketch_bins"], src["sketch_bin_counts"], order, starts)
    columns = partials(src, order, starts)
    columns.update(sketch_bins=sk_bins, sketch_bin_counts=sk_counts, sketch_count=from_numpy(
        np.add.reduceat(to_numpy(src["sketch_count"], np.float64)[order], heads)))
    return table(ids, (key[heads] >> 32), key[heads] & 0xFFFFFFFF, period, columns)


def sort_series(t: pa.Table) -> pa.Table:
    """``t`` sorted by :data:`~pipeline.rollup.schema.SORT_KEYS` — the same table
    ``t.sort_by(SORT_KEYS)`` gives (a stable sort), without comparing strings row by row: rows
    of one series come in runs (a tier's files are sorted by series, and chunks are merged into
    blocks or partition files), so only the runs' identities are sorted, and the rows then by
    (identity rank, timestamp) as integers. Tables with a null identity or time are sorted by
    pyarrow itself."""
    import pyarrow.compute as pc

    keys = SORT_KEYS[:-1]
    if t.num_rows < 2 or any(t[c].null_count for c in SORT_KEYS):
        return t.sort_by([(c, "ascending") for c in SORT_KEYS])
    n = t.num_rows
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for c in keys:
        col = t[c]
        new[1:] |= to_numpy(pc.cast(pc.not_equal(col.slice(1), col.slice(0, n - 1)), pa.uint8()), np.uint8) != 0
    heads = np.flatnonzero(new)
    ident = t.select(keys).take(from_numpy(heads))
    by_ident = to_numpy(pc.sort_indices(ident, sort_keys=[(c, "ascending") for c in keys]), np.int64)
    ident = ident.take(from_numpy(by_ident))
    same = np.ones(len(heads) - 1, dtype=bool)  # sorted identity i equals identity i - 1
    for c in keys:
        col = ident[c]
        same &= to_numpy(pc.cast(pc.equal(col.slice(1), col.slice(0, len(heads) - 1)), pa.uint8()), np.uint8) != 0
    dense = np.concatenate(([0], np.cumsum(~same)))  # rank of each sorted identity (equal ones share it)
    rank_of_head = np.empty(len(heads), np.int64)
    rank_of_head[by_ident] = dense
    rank = np.repeat(rank_of_head, np.diff(np.append(heads, n)))
    ms = to_numpy(t["timestamp"].cast(pa.int64()), np.int64)
    lo, width = int(ms.min()), int(ms.max()) - int(ms.min()) + 1
    if width * (int(rank_of_head.max()) + 1) < 1 << 62:  # one int64 key; stable, and a run merge (timsort)
        order = np.argsort(rank * width + (ms - lo), kind="stable")
    else:
        order = np.lexsort((ms, rank))  # stable: equal (identity, time) rows keep their order
    if bool((np.diff(order) == 1).all()):  # in order already (an engine's rows, laid out per file)
        return t
    return t.take(from_numpy(order))
