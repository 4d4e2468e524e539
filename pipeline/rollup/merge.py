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

:func:`merge_lists` merges whole stored sketches (rows of a sketch column pair) into groups of
rows in one pass of the native module ``pipeline.rollup._sketchmerge`` (C, a dense array over
the group's bin range or a stable sort; no sort of all entries, no ``take`` of list columns), with
:func:`build_sketches` as the fallback when the module is not built or ``WATCHLAKE_NATIVE=0``;
both give identical sketches (tests compare them). The native merge reads a list column in the
chunks DuckDB hands over (no copy to combine them), skips marker entries below a ``floor`` (the
raw tier lists one entry per source row, :data:`pipeline.rollup.sql.WEIGHTED`/``UNLISTED`` for
rows whose samples are not a single value) and returns each group's total count
(:func:`merge_counted`: the raw tier's ``sketch_count``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.native import use_native
from pipeline.rollup.schema import SKETCH_BINS, SKETCH_COUNTS, empty_sketches

try:
    from pipeline.rollup import _sketchmerge  # type: ignore[attr-defined]
except ImportError:  # not built: the numpy path
    _sketchmerge = None

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


def from_numpy(x: np.ndarray) -> pa.Array:
    """A 1-D numeric or boolean numpy array as an Arrow array without nulls (numbers zero-copy).
    ``pa.array`` would import pandas to check its argument: 0.3 s of CPU, once per process — a
    tenth of the raw tier's time over the bare query, in every rollup command."""
    if x.dtype == np.bool_:
        bits = np.packbits(x, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(x), [None, pa.py_buffer(bits)])
    x = np.ascontiguousarray(x)
    return pa.Array.from_buffers(pa.from_numpy_dtype(x.dtype), len(x), [None, pa.py_buffer(x)])


def _list(a: pa.ChunkedArray | pa.Array) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def flat_entries(bins: pa.ChunkedArray | pa.Array, counts: pa.ChunkedArray | pa.Array | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(row, bin, count)`` of every entry of a sketch column pair (nulls are empty); ``count``
    is ``None`` when ``counts`` is."""
    import pyarrow.compute as pc  # here: importing it costs a short command 0.05–0.1 s

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
    off = from_numpy(offsets)
    return (pa.ListArray.from_arrays(off, from_numpy(out_bins), type=SKETCH_BINS),
            pa.ListArray.from_arrays(off, from_numpy(out_counts), type=SKETCH_COUNTS))


def native() -> bool:
    """Whether :func:`merge_lists` uses the native module (built, and ``WATCHLAKE_NATIVE`` ≠ 0)."""
    return use_native(_sketchmerge)


def _from_bytes(data: bytes, typ: pa.DataType, dtype: type) -> pa.Array:
    return pa.Array.from_buffers(typ, len(data) // np.dtype(dtype).itemsize, [None, pa.py_buffer(data)])


def _nulls_empty(a: pa.Array, offsets: np.ndarray) -> bool:
    """Whether every null list of ``a`` spans no values (so the offsets alone say what it holds)."""
    if not a.null_count:
        return True
    bits = np.unpackbits(np.frombuffer(a.buffers()[0], dtype=np.uint8), bitorder="little")
    valid = bits[a.offset:a.offset + len(a)].astype(bool)
    return not bool(np.diff(offsets)[~valid].any())


def _chunks(a: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    return list(a.chunks) if isinstance(a, pa.ChunkedArray) else [a]


def _native_chunks(bins: pa.ChunkedArray | pa.Array, counts: pa.ChunkedArray | pa.Array | None
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] | None:
    """The ``(offsets, bins, counts)`` buffers of each chunk for the native merge, or ``None``
    when a null list spans values (the offsets alone would not say what it holds)."""
    b_chunks = _chunks(bins)
    c_chunks: list[pa.Array | None] = [None] * len(b_chunks) if counts is None else _chunks(counts)
    if len(c_chunks) != len(b_chunks) or any(c is not None and len(c) != len(b)
                                             for b, c in zip(b_chunks, c_chunks, strict=True)):
        b_chunks, c_chunks = [_list(bins)], [None if counts is None else _list(counts)]
    out = []
    for b, c in zip(b_chunks, c_chunks, strict=True):
        off = to_numpy(b.offsets, np.int32)
        if not _nulls_empty(b, off):
            return None
        if c is not None:
            c_off = to_numpy(c.offsets, np.int32)
            if not _nulls_empty(c, c_off):
                return None
            if not np.array_equal(off, c_off):
                raise ValueError("sketch_bins and sketch_bin_counts lists differ in length")
        out.append((np.ascontiguousarray(off), np.ascontiguousarray(to_numpy(b.values, np.int32)),
                    None if c is None else np.ascontiguousarray(to_numpy(c.values, np.float64))))
    return out


def merge_lists(bins: pa.ChunkedArray | pa.Array, counts: pa.ChunkedArray | pa.Array | None,
                order: np.ndarray, starts: np.ndarray, floor: int | None = None) -> tuple[pa.Array, pa.Array]:
    """Sketches of groups of rows of a sketch column pair: group ``g`` merges rows
    ``order[starts[g]] … order[starts[g + 1] − 1]`` (``counts`` None: every entry counts 1, and
    a row's bins may repeat — the listed bins of raw samples). Entries below ``floor`` are
    markers, not bins, and are left out (:data:`pipeline.rollup.sql.MARKERS_BELOW`). Returns
    ``(sketch_bins, sketch_bin_counts)`` of ``len(starts) − 1`` rows, bins strictly ascending."""
    out_bins, out_counts, _ = merge_counted(bins, counts, order, starts, floor)
    return out_bins, out_counts


def merge_chunks(chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], order: np.ndarray,
                 starts: np.ndarray, floor: int | None = None) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """:func:`merge_counted` of a list column given as the native module takes it: per chunk its
    int32 ``offsets``, int32 ``bins`` and float64 ``counts`` (``None`` in every chunk: each entry
    counts 1), rows numbered across the chunks. Needs the native module (:func:`native`)."""
    out_off, out_bins, out_counts, out_totals = _sketchmerge.merge(
        chunks, np.ascontiguousarray(order, np.int64), np.ascontiguousarray(starts, np.int64),
        *(() if floor is None else (int(floor),)))
    offsets = _from_bytes(out_off, pa.int32(), np.int32)
    return (pa.ListArray.from_arrays(offsets, _from_bytes(out_bins, pa.int32(), np.int32), type=SKETCH_BINS),
            pa.ListArray.from_arrays(offsets, _from_bytes(out_counts, pa.float64(), np.float64), type=SKETCH_COUNTS),
            np.frombuffer(out_totals, dtype=np.float64))


def merge_counted(bins: pa.ChunkedArray | pa.Array, counts: pa.ChunkedArray | pa.Array | None,
                  order: np.ndarray, starts: np.ndarray, floor: int | None = None
                  ) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """:func:`merge_lists`, and per group the sum of its counts (float64, added in entry order)."""
    chunks = _native_chunks(bins, counts) if native() else None
    if chunks is not None:  # the column is read where it lies: chunks are not combined
        return merge_chunks(chunks, order, starts, floor)
    b = _list(bins)
    c = None if counts is None else _list(counts)
    if c is not None and not np.array_equal(to_numpy(b.offsets, np.int32), to_numpy(c.offsets, np.int32)):
        raise ValueError("sketch_bins and sketch_bin_counts lists differ in length")
    rows, flat_bins, flat_counts = flat_entries(b, c)
    if floor is not None and len(flat_bins) and int(flat_bins.min()) < floor:
        bins_kept = np.flatnonzero(flat_bins >= floor)
        rows, flat_bins = rows[bins_kept], flat_bins[bins_kept]
        flat_counts = None if flat_counts is None else flat_counts[bins_kept]
    n = len(starts) - 1
    order = np.asarray(order, np.int64)
    group_of = np.full(len(b), -1, np.int64)  # each source row's group (a row in no group: -1)
    group_of[order] = np.repeat(np.arange(n), np.diff(starts))
    rank = np.full(len(b), -1, np.int64)  # its position in order
    rank[order] = np.arange(len(order))
    # build_sketches adds equal bins in entry order: the entries of the rows in order, kept only
    # for rows in some group
    keep = np.flatnonzero(rank[rows] >= 0)
    seq = keep[np.argsort(rank[rows[keep]], kind="stable")]
    out_bins, out_counts = build_sketches(n, group_of[rows[seq]], flat_bins[seq],
                                          None if flat_counts is None else flat_counts[seq])
    values = to_numpy(out_counts.values, np.float64)
    off = to_numpy(out_counts.offsets, np.int64)
    totals = np.array([float(np.sum(values[off[g]:off[g + 1]])) for g in range(n)]) if n else np.zeros(0)
    return out_bins, out_counts, totals


def list_values(a: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    """The child arrays (every entry) of each chunk of a list column."""
    return [c.values for c in _chunks(a)]
