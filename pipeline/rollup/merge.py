"""Merging sketches for the coarser tiers (1m → 5m → 1h) with vectorised numpy.

In DuckDB, merging means unnesting every entry, a hash ``GROUP BY`` over (series, bucket, sign,
key) and re-listing and sorting the entries of each bucket; at α = 1 % a bucket carries about
as many entries as it has samples, so that is most of a merge's time. Here the entries of all
source rows are flattened (no copy), each gets one int64 key — the target bucket's row number
and the entry's ``(sign, key)`` — and the counts of equal keys are added, found by one stable
sort (each source sketch is a sorted run already, so timsort merges runs) or, when buckets ×
distinct codes is small (5m → 1h), with ``np.bincount`` over a dense table without any sort;
the result is already in the stored order, sorted by ``(sign, key)`` inside each bucket.
Guarantees are those of the SQL merge: every source entry lands in its target bucket, counts of
equal buckets add, nothing else changes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.rollup.schema import SKETCH

_CODE_BITS = 22
"""Bits for ``sign · 2²⁰ + key + 2²¹``: keys are ``ceil(ln|v| / ln γ)``, within ±37,300 for every
finite float64 (subnormals included), far inside ±2¹⁹."""
_SIGN = 1 << 20
_BIAS = 1 << 21


def merge_sketches(bucket_keys: pa.ChunkedArray | pa.Array, row_keys: pa.ChunkedArray | pa.Array,
                   sketches: pa.ChunkedArray | pa.Array, *, dense_limit: int = 1 << 24) -> pa.Array:
    """The merged sketch of every target bucket (``dense_limit``: see :func:`build_sketches`).

    Args:
        bucket_keys: one int64 key per target bucket, strictly increasing (the output order).
        row_keys: per source row, the key of the target bucket it belongs to (must be one of
            ``bucket_keys``).
        sketches: per source row, its sketch (``list<struct<sign, key, count>>``; null = empty).

    Returns:
        A :data:`~pipeline.rollup.schema.SKETCH` array aligned with ``bucket_keys``; a bucket
        without entries gets an empty list.
    """
    sk = sketches.combine_chunks() if isinstance(sketches, pa.ChunkedArray) else sketches
    parent = np.asarray(pc.list_parent_indices(sk).to_numpy(), dtype=np.int64)
    entries = pc.list_flatten(sk)
    rows = np.asarray(row_keys.to_numpy(), dtype=np.int64)
    return build_sketches(bucket_keys, rows[parent], entries.field("sign"), entries.field("key"),
                          entries.field("count"), dense_limit=dense_limit)


def _np(a: pa.ChunkedArray | pa.Array | np.ndarray, dtype: type) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a.astype(dtype, copy=False)
    return np.asarray(a.to_numpy(zero_copy_only=False) if isinstance(a, pa.Array) else a.to_numpy(),
                      dtype=dtype)


def build_sketches(bucket_keys: pa.ChunkedArray | pa.Array, entry_keys: pa.ChunkedArray | pa.Array | np.ndarray,
                   sign: pa.ChunkedArray | pa.Array, key: pa.ChunkedArray | pa.Array,
                   count: pa.ChunkedArray | pa.Array, *, dense_limit: int = 1 << 24) -> pa.Array:
    """Sketches from flat entries: entry ``i`` (``sign[i]``, ``key[i]``, ``count[i]``) goes to the
    target bucket whose key is ``entry_keys[i]`` (one of ``bucket_keys``, strictly increasing);
    counts of equal ``(sign, key)`` in a bucket add. Returns a :data:`SKETCH` array aligned with
    ``bucket_keys`` (entries sorted by ``(sign, key)``; empty list for a bucket without any).

    Equal entries are found with a dense ``(bucket, code)`` table when it has at most
    ``dense_limit`` cells (≈ 9 bytes each), else by sorting; the result is the same."""
    targets = _np(bucket_keys, np.int64)
    bucket = np.searchsorted(targets, _np(entry_keys, np.int64))
    code = _np(sign, np.int64) * _SIGN + _np(key, np.int64)
    weights = _np(count, np.float64)
    lo = int(code.min()) if len(code) else 0
    width = int(code.max()) - lo + 1 if len(code) else 1
    if len(targets) * width <= dense_limit or not len(code):
        # few distinct codes per bucket (e.g. 5m → 1h): one dense (bucket, code) table, no sort
        cell = bucket * width + (code - lo)
        present = np.zeros(len(targets) * width, dtype=bool)
        present[cell] = True
        cells = np.flatnonzero(present)
        counts = np.bincount(cell, weights=weights, minlength=len(present))[cells].astype(np.float64)
        merged = ((cells // width) << _CODE_BITS) + cells % width + lo + _BIAS
    else:
        # a stable argsort (timsort) is fast here: each source sketch is already a sorted run
        combined = (bucket << _CODE_BITS) + code + _BIAS
        order = np.argsort(combined, kind="stable")
        combined = combined[order]
        starts = np.flatnonzero(np.concatenate(([True], combined[1:] != combined[:-1])))
        merged = combined[starts]
        counts = np.add.reduceat(weights[order], starts).astype(np.float64)
    code = (merged & ((1 << _CODE_BITS) - 1)) - _BIAS
    out_sign = np.sign(code)
    offsets = np.searchsorted(merged >> _CODE_BITS, np.arange(len(targets) + 1)).astype(np.int32)
    values = pa.StructArray.from_arrays(
        [pa.array(out_sign.astype(np.int8)), pa.array((code - out_sign * _SIGN).astype(np.int32)),
         pa.array(counts)], fields=list(SKETCH.value_type))
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=SKETCH)
