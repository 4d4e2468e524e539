"""Building and merging sketches with vectorised numpy and Arrow (no per-bucket Python).

A sketch column pair (``sketch_bins`` / ``sketch_bin_counts``, :mod:`pipeline.rollup.sketch`)
is built from *flat entries*: entry ``i`` puts ``counts[i]`` samples (1 when ``counts`` is
``None``) into bin ``bins[i]`` of target row ``target[i]``. Each entry gets one int64 key —
``target · 2¹⁸ + bin + 2¹⁷`` (bins are within ±(2¹⁶ + 37,300)) — and equal keys are summed after
one sort: a plain ``np.sort`` when every count is 1 (the run lengths are the counts) or a
small whole number (each entry repeated ``count`` times first, when that at most doubles them:
the merged tiers), an ``argsort`` otherwise, and no sort at all when the keys are already in
order (the raw tier's bins come sorted per row from SQL). The sorts are cheap because entries arrive grouped by target
row (each source sketch is a sorted run). The result is in the stored order: bins strictly
ascending inside each row.

Guarantees (those of :class:`~pipeline.rollup.sketch.Sketch.merge`): every entry lands in its
target row, counts of equal bins add, nothing else changes; a row without entries gets empty
(not null) lists.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.rollup.schema import SKETCH_BINS, SKETCH_COUNTS, empty_sketches

_BIN_BITS = 18
_BIN_BIAS = 1 << 17
_BIN_MASK = (1 << _BIN_BITS) - 1


def _primitive(a: pa.Array, dtype: type) -> np.ndarray:
    if pa.types.is_floating(a.type) or pa.types.is_integer(a.type):
        width = a.type.bit_width // 8
        kind = "f" if pa.types.is_floating(a.type) else "u" if pa.types.is_unsigned_integer(a.type) else "i"
        buf = a.buffers()[1]
        out = np.frombuffer(buf, dtype=np.dtype(f"{kind}{width}"), count=len(a), offset=a.offset * width) \
            if buf is not None else np.empty(0, dtype=np.dtype(f"{kind}{width}"))
        out = out.astype(dtype, copy=False)
        if a.null_count:
            valid = np.unpackbits(np.frombuffer(a.buffers()[0], dtype=np.uint8), bitorder="little")
            out = np.where(valid[a.offset:a.offset + len(a)].astype(bool), out, np.nan if kind == "f" else 0)
        return out
    return np.asarray(a.to_numpy(zero_copy_only=False), dtype=dtype)


def to_numpy(a: pa.ChunkedArray | pa.Array | np.ndarray, dtype: type) -> np.ndarray:
    """A numpy array of ``dtype`` from a numeric Arrow array, chunked or not (nulls become NaN
    for floats, 0 for integers). Read from the Arrow buffers: pyarrow's own ``to_numpy`` imports
    pandas (0.4 s of a short command's start-up)."""
    if isinstance(a, np.ndarray):
        return a.astype(dtype, copy=False)
    if isinstance(a, pa.ChunkedArray):
        parts = [_primitive(c, dtype) for c in a.chunks]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
    return _primitive(a, dtype)


def _list(a: pa.ChunkedArray | pa.Array) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def flat_entries(bins: pa.ChunkedArray | pa.Array, counts: pa.ChunkedArray | pa.Array | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(row, bin, count)`` of every entry of a sketch column pair (nulls are empty); ``count``
    is ``None`` when ``counts`` is."""
    b = _list(bins)
    rows = to_numpy(pc.list_parent_indices(b), np.int64)
    flat_bins = to_numpy(pc.list_flatten(b), np.int64)
    flat_counts = None if counts is None else to_numpy(pc.list_flatten(_list(counts)), np.float64)
    return rows, flat_bins, flat_counts


def build_sketches(n_rows: int, target: np.ndarray, bins: np.ndarray, counts: np.ndarray | None = None
                   ) -> tuple[pa.Array, pa.Array]:
    """Sketches of ``n_rows`` rows from flat entries (see the module docstring): the
    ``(sketch_bins, sketch_bin_counts)`` arrays, aligned with rows ``0 … n_rows − 1``."""
    if not len(bins):
        return empty_sketches(n_rows)
    key = target.astype(np.int64)  # a copy: shifted and added to in place
    key <<= _BIN_BITS
    key += bins
    key += _BIN_BIAS
    if counts is not None:
        whole = counts.astype(np.int64)
        if float(counts.min()) == 1.0 == float(counts.max()):
            counts = None
        elif int(whole.min()) > 0 and bool(np.array_equal(whole, counts)) and int(whole.sum()) <= 2 * len(key):
            # small whole counts (merged tiers): one sample per key, then the run lengths count them
            key, counts = np.repeat(key, whole), None
    flags = np.empty(max(len(key) - 1, 0), dtype=bool)  # one 1-byte buffer for both checks
    if bool(np.less(key[1:], key[:-1], out=flags).any()):
        if counts is None:
            key.sort(kind="stable")  # entries come in sorted runs: a run merge
        else:
            order = np.argsort(key, kind="stable")
            key, counts = key[order], counts[order]
    np.not_equal(key[1:], key[:-1], out=flags)
    starts = np.flatnonzero(np.concatenate(([True], flags)))
    del flags
    if counts is None:
        out_counts = np.empty(len(starts), dtype=np.float64)
        np.subtract(starts[1:], starts[:-1], out=out_counts[:-1])
        out_counts[-1] = len(key) - starts[-1]
    else:
        out_counts = np.add.reduceat(counts, starts).astype(np.float64)
    merged = key[starts]
    del key, starts
    offsets = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(merged >> _BIN_BITS, minlength=n_rows), out=offsets[1:])
    merged &= _BIN_MASK  # in place: the bins
    merged -= _BIN_BIAS
    out_bins = merged.astype(np.int32)
    off = pa.array(offsets)
    return (pa.ListArray.from_arrays(off, pa.array(out_bins), type=SKETCH_BINS),
            pa.ListArray.from_arrays(off, pa.array(out_counts), type=SKETCH_COUNTS))
