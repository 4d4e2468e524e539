"""Record keys as 64-bit hashes, and the row groups of committed files they are checked against.

The loader's de-duplication index (:mod:`pipeline.loader.index`) holds, per row group of a
committed file, the *sorted 64-bit hashes* of its record keys (8 bytes a key, whatever the key's
length) and the row group's event-time range ``[lo, hi]`` in epoch milliseconds. A batch row is
checked only against the row groups whose range holds its event time; a hash hit is a duplicate
only once confirmed against the real keys (re-read from the file), so a hash collision never
drops a distinct record. A record is thus identified by its key *and* its event time (for
metrics the time is part of the key; a CloudTrail event, log event or Kinesis record delivered
again carries the same time).

Guarantees:

* :func:`key_hashes` is a pure function of the key string within one process (hashes are never
  stored, so a different hash in another process or library version is harmless);
* :func:`event_ms` and :func:`file_units` bound event times conservatively: every row of a row
  group has ``lo <= event_ms(row) <= hi`` (statistics floored/ceiled to the millisecond; a row
  group without statistics has its time column read).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.loader.partition import key_array
from pipeline.schemas import EVENT_TIME, RECORD_KEYS

if TYPE_CHECKING:
    from pipeline.lake import Lake

_SEED = 0x5EED_1E7A
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PER_MS = {"s": (1000, 1), "ms": (1, 1), "us": (1, 1000), "ns": (1, 1_000_000)}  # (multiply, floor-divide)


OUTLIER_SHARE = 0.01
"""At most this share of a row group's rows lie outside its *core* time range (:func:`refine`)."""


@dataclass(frozen=True)
class Unit:
    """One row group of one committed file: where it is, how many rows, its event-time range and,
    once :func:`refine` d, its core range and the sorted hashes of the rows outside it."""

    path: str
    row_group: int
    rows: int
    lo: int  # epoch ms, <= every row's event time
    hi: int  # epoch ms, >= every row's event time
    core_lo: int = 0
    core_hi: int = -1
    outliers: np.ndarray | None = field(default=None, compare=False)  # None: not refined

    @property
    def outlier_bytes(self) -> int:
        return 0 if self.outliers is None else int(self.outliers.nbytes)


def refine(unit: Unit, hashes: np.ndarray, times: np.ndarray) -> Unit:
    """``unit`` with its core: the shortest time range holding all but :data:`OUTLIER_SHARE` of its
    rows (``hashes`` and ``times`` of every row, same order), widened by half its width (and a
    second) to the rows near it; the rows outside it — late data
    mixed into a file of current data — keep their hashes, so a probe outside the core needs no
    read of the row group. Guarantee: every row whose time is outside ``[core_lo, core_hi]`` has
    its hash in ``outliers``."""
    n = len(times)
    if n == 0:
        return replace(unit, outliers=np.zeros(0, dtype=np.uint64))
    st = np.sort(times)
    keep = n - int(n * OUTLIER_SHARE)
    widths = st[keep - 1:] - st[:n - keep + 1]
    i = int(np.argmin(widths))
    lo, hi = int(st[i]), int(st[i + keep - 1])
    margin = (hi - lo) // 2 + 1000  # rows near the dense range belong to it: only stragglers stay out
    lo = int(st[np.searchsorted(st, lo - margin, "left")])
    hi = int(st[np.searchsorted(st, hi + margin, "right") - 1])
    out = (times < lo) | (times > hi)
    return replace(unit, core_lo=lo, core_hi=hi, outliers=sorted_hashes(hashes[out]))


def key_hashes(keys: pa.Array) -> np.ndarray:
    """64-bit hash of every key string (``uint64``), same key → same hash within the process."""
    import polars as pl

    if not len(keys):
        return np.zeros(0, dtype=np.uint64)
    return pl.Series(values=keys).hash(seed=_SEED).to_numpy().astype(np.uint64, copy=False)


def event_ms(table_name: str, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Event time of every row in epoch milliseconds (floored), as ``int64``."""
    col = table.column(EVENT_TIME[table_name])
    unit = col.type.unit if pa.types.is_timestamp(col.type) else "ms"
    mul, div = _PER_MS[unit]
    raw = pc.cast(col, pa.int64())
    arr = raw.to_numpy() if isinstance(raw, pa.ChunkedArray) else raw.to_numpy(zero_copy_only=False)
    arr = np.asarray(arr, dtype=np.int64)
    return arr * mul if div == 1 else arr // div


def _stat_ms(value: object, *, ceil: bool) -> int | None:
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = dt - _EPOCH
        ms, rest = divmod(delta, timedelta(milliseconds=1))
        return int(ms) + (1 if ceil and rest else 0)
    return None


def file_units(lake: Lake, table_name: str, rel: str) -> list[Unit]:
    """The row groups of committed file ``rel`` with their event-time ranges (from the footer)."""
    md = pq.read_metadata(lake.path(rel), filesystem=lake.fs)
    name = EVENT_TIME[table_name]
    col_idx = next((i for i in range(md.num_columns) if md.schema.column(i).path == name), None)
    out: list[Unit] = []
    for rg in range(md.num_row_groups):
        meta = md.row_group(rg)
        lo = hi = None
        if col_idx is not None:
            st = meta.column(col_idx).statistics
            if st is not None and st.has_min_max:
                lo, hi = _stat_ms(st.min, ceil=False), _stat_ms(st.max, ceil=True)
        if (lo is None or hi is None) and meta.num_rows:
            t = pq.ParquetFile(lake.path(rel), filesystem=lake.fs).read_row_group(rg, columns=[name])
            ms = event_ms(table_name, t)
            lo, hi = int(ms.min()), int(ms.max())
        out.append(Unit(rel, rg, meta.num_rows, lo if lo is not None else 0, hi if hi is not None else -1))
    return out


def read_unit_keys(lake: Lake, table_name: str, unit: Unit) -> tuple[pa.Array, np.ndarray]:
    """The record keys and event times (ms) of one row group (reads only those columns)."""
    cols = list(dict.fromkeys([*RECORD_KEYS[table_name], EVENT_TIME[table_name]]))
    t = pq.ParquetFile(lake.path(unit.path), filesystem=lake.fs).read_row_group(unit.row_group, columns=cols)
    return key_array(table_name, t), event_ms(table_name, t)


def identities(keys: pa.Array, ms: np.ndarray) -> pa.Array:
    """Key and event time of every row as one string: what two rows must share to be one record."""
    return pc.binary_join_element_wise(keys, pa.array(ms, pa.int64()).cast(pa.string()), "\x1e")


def sorted_hashes(hashes: np.ndarray) -> np.ndarray:
    """``hashes`` sorted (a copy, contiguous: what the index caches)."""
    return np.sort(hashes, kind="stable")


def hits(sorted_h: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``probe`` occur in ``sorted_h`` (sorted ``uint64``)."""
    if not len(sorted_h) or not len(probe):
        return np.zeros(len(probe), dtype=bool)
    pos = np.searchsorted(sorted_h, probe)
    pos[pos == len(sorted_h)] = len(sorted_h) - 1
    return np.asarray(sorted_h[pos] == probe)


BLOOM_BITS_PER_KEY = 10
BLOOM_PROBES = 7  # false positives ≈ 0.8 % at 10 bits a key


def bloom(hashes: np.ndarray) -> np.ndarray:
    """A Bloom filter of ``hashes`` (:data:`BLOOM_BITS_PER_KEY` bits a key, packed ``uint8``):
    :func:`maybe` is True for every hash put in, and for about 1 % of the others."""
    m = max(64, BLOOM_BITS_PER_KEY * len(hashes))
    m += -m % 8
    bits = np.zeros(m, dtype=bool)
    bits[_positions(hashes, m).ravel()] = True
    return np.packbits(bits, bitorder="little")


def maybe(filt: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``probe`` may be in the filter (no false negatives)."""
    if not len(probe):
        return np.zeros(0, dtype=bool)
    pos = _positions(probe, len(filt) * 8)
    return np.all((filt[pos >> 3] >> (pos & 7).astype(np.uint8)) & 1, axis=1).astype(bool)


def _positions(hashes: np.ndarray, m: int) -> np.ndarray:
    """The :data:`BLOOM_PROBES` bit positions of every hash (double hashing), shape (n, probes)."""
    h1 = (hashes & np.uint64(0xFFFFFFFF)).astype(np.int64)
    h2 = ((hashes >> np.uint64(32)) | np.uint64(1)).astype(np.int64)
    i = np.arange(BLOOM_PROBES, dtype=np.int64)
    return (h1[:, None] + i[None, :] * h2[:, None]) % m
