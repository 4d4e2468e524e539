"""Putting rollup rows together in numpy/Arrow: output order, series identity, merged partials.

The SQL of :mod:`pipeline.rollup.sql` groups on integers only (series id as a 64-bit integer,
bucket index); sorting 1–2 M result rows with their sketch lists, and joining the identity
strings to every row, cost DuckDB more than the aggregate itself. Here the series identities
(one row per series, :func:`pipeline.rollup.sql.ids_query`) are ranked in output order
(namespace, metric, dimensions, unit), every row gets the int64 key ``rank · 2³² + bucket``, one
``argsort`` of those keys gives the output order, and the identity columns are ``take``\\ n from
the small identity table. For the coarser tiers the source rows are read as they are and merged
here as well: ``reduceat`` over runs of equal keys adds the partials (SampleCount and Sum add,
Minimum/Maximum take the min/max — never an average of averages) and
:func:`pipeline.rollup.merge.merge_lists` adds the sketches.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.rollup.merge import from_numpy, merge_lists, to_numpy
from pipeline.rollup.schema import ROLLUP, SERIES_ID

_IDENTITY = [SERIES_ID, "namespace", "metric_name", "dimensions", "unit"]


def _u64(a: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return to_numpy(a, np.uint64)


def ranks(ids: pa.Table, sid: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per row, the index in ``ids`` (sorted in output order) of its series id ``sid``."""
    id_sid = _u64(ids["sid"])
    by_sid = np.argsort(id_sid)
    return np.asarray(by_sid[np.searchsorted(id_sid[by_sid], _u64(sid))], dtype=np.int64)


def keys(rank: np.ndarray, bucket: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The int64 row key ``rank · 2³² + bucket index`` (increasing in output order)."""
    return (rank << 32) + to_numpy(bucket, np.int64)


def chunk_major(key: np.ndarray, period: int) -> np.ndarray:
    """The stable permutation that puts rows sorted by :func:`keys` in chunk-file order: by the
    chunk of their bucket (:mod:`pipeline.rollup.chunks`), then as they were (series, bucket).
    Each settled chunk's rows are then one run, which :func:`pipeline.rollup.chunks.split` writes
    as a slice instead of gathering them from all over the table."""
    from pipeline.rollup.chunks import CHUNK_BUCKETS

    return np.argsort((key & 0xFFFFFFFF) // CHUNK_BUCKETS.get(period, 10), kind="stable")


def table(ids: pa.Table, rank: np.ndarray, bucket: np.ndarray, period: int, columns: dict[str, pa.Array]
          ) -> pa.Table:
    """A table in :data:`~pipeline.rollup.schema.ROLLUP` schema: identity from ``ids`` at
    ``rank``, bucket start ``bucket · period``, the other ``columns`` as given (same length)."""
    out: dict[str, pa.Array | pa.ChunkedArray] = {c: ids[c].take(from_numpy(rank)) for c in _IDENTITY}
    out["timestamp"] = from_numpy((bucket * (period * 1000)).astype(np.int64)).cast(ROLLUP.field("timestamp").type)
    out["period"] = from_numpy(np.full(len(bucket), period, dtype=np.int32))
    out.update(columns)
    return pa.table([out[name] for name in ROLLUP.names], schema=ROLLUP)


def merge_rows(ids: pa.Table, src: pa.Table, period: int) -> pa.Table:
    """Rows of a finer tier (``sid``, bucket index ``b`` of ``period``, partials, sketch) merged
    into buckets of ``period`` seconds, in output order."""
    rank = ranks(ids, src["sid"])
    key = keys(rank, src["b"])
    order = np.argsort(key, kind="stable")  # source files are sorted by series: nearly in order
    key = key[order]
    by_chunk = chunk_major(key, period)
    order, key = order[by_chunk], key[by_chunk]
    if not len(key):
        return ROLLUP.empty_table()
    new = np.concatenate(([True], key[1:] != key[:-1]))  # equal keys stay adjacent
    starts = np.flatnonzero(new)

    def col(name: str) -> np.ndarray:
        return to_numpy(src[name], np.float64)[order]

    sk_bins, sk_counts = merge_lists(src["sketch_bins"], src["sketch_bin_counts"], order,
                                     np.append(starts, len(key)))
    columns = {"sample_count": from_numpy(np.add.reduceat(col("sample_count"), starts)),
               "sum": from_numpy(np.add.reduceat(col("sum"), starts)),
               "min": from_numpy(np.fmin.reduceat(col("min"), starts)),
               "max": from_numpy(np.fmax.reduceat(col("max"), starts)),
               "sketch_bins": sk_bins, "sketch_bin_counts": sk_counts,
               "sketch_count": from_numpy(np.add.reduceat(col("sketch_count"), starts))}
    return table(ids, (key[starts] >> 32), key[starts] & 0xFFFFFFFF, period, columns)
