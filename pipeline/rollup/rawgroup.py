"""The raw tier's groups without SQL: raw datapoints read with pyarrow, grouped in one pass in C.

:func:`pipeline.rollup.sql.raw_query` groups 10 M rows in a hash aggregate that lists every
row's sketch bin; the aggregate and ``list()`` cost DuckDB 1.5× a bare count/sum/min/max.
Raw metrics arrive in time order, so one series' rows of one bucket are consecutive *for that
series*: the native module ``pipeline.rollup._rawgroup`` keeps one open group per series (an
array indexed by series rank, which stays in cache) and adds each row to it in one pass
(:func:`groups`), with each row's group and bin; its counting sort then lists each output
row's entries for :func:`pipeline.rollup.merge.merge_chunks` (:meth:`Groups.sketches`). The
series are numbered as the row groups' dictionaries name them and ranked in output order at the
end (:class:`_Series`), so the files are read once (the SQL path reads them twice: the series
first, :func:`pipeline.rollup.sql.ids_query`).

The result is what the SQL gives (the tests compare both on the same files): the same groups,
SampleCount/Sum/Minimum/Maximum (Sum added in file order, so equal up to the rounding of a
different addition order) and identical sketches. The pass handles the usual source, single
datapoints and statistic sets (`values` null); :func:`groups` returns ``None`` — the caller
runs the SQL — for anything else: ``values``/``counts`` lists, a null or non-finite partial, a
null or unknown series id, a column of another type, files not on local disk, more than
:data:`MAX_ROWS` rows in one task (the SQL's aggregate can spill to disk), or the native module
not built (``WATCHLAKE_NATIVE=0``).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from pipeline.rollup import sql
from pipeline.rollup.carry import IDENTITY, parse_ids, ranked_ids
from pipeline.rollup.merge import from_numpy, merge_chunks, native, to_numpy
from pipeline.rollup.percentiles import Patterns, kept
from pipeline.rollup.schema import SERIES_ID
from pipeline.rollup.sketch import INV_LN_GAMMA, OFFSET
from pipeline.timeutil import EPOCH

if TYPE_CHECKING:
    import pyarrow.parquet as pq

try:
    from pipeline.rollup import _rawgroup  # type: ignore[attr-defined]
except ImportError:  # not built: the SQL path
    _rawgroup = None

PARTIALS = ("sample_count", "sum", "min", "max")
COLUMNS = (SERIES_ID, "timestamp", *PARTIALS)
"""What the pass reads of every row group; the identity columns only of a row group that names
a series first (nearly always the first few)."""
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_WEIGHTED, _NONFINITE, _BACK = 1, 2, 4
MAX_ROWS = 50_000_000
"""Tasks with more source rows than this take the SQL (whose aggregate can spill to disk): the
pass holds 16 bytes per row until the sketches are built (800 MB here)."""


@dataclass
class Groups:
    """The groups of a raw tier task with their row ``key`` (:func:`pipeline.rollup.assemble.keys`)
    and partials — one per (series, bucket), or several where rows came out of time order
    (``repeats``) — and per source row (in batches) its group and sketch entry."""

    key: np.ndarray
    partials: dict[str, np.ndarray]
    grps: list[np.ndarray]
    bins: list[np.ndarray]
    counts: list[np.ndarray]
    weighted: bool  # some entry counts more than 1 sample
    repeats: bool  # rows came out of time order: groups of one key may repeat
    order: np.ndarray | None = None  # the groups sorted by key, stably (None: not known)

    def sketches(self, dest: np.ndarray, n: int) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """``(sketch_bins, sketch_bin_counts, sketch_count)`` of ``n`` output rows, group ``g``
        going to output row ``dest[g]``: the entries of each output row's source rows, in file
        order, added up."""
        off, bins, counts = _rawgroup.entries(self.grps, self.bins, self.counts if self.weighted else None,
                                              np.ascontiguousarray(dest, np.int32), n, sql.UNLISTED)
        chunk = (np.frombuffer(off, np.int32), np.frombuffer(bins, np.int32),
                 None if counts is None else np.frombuffer(counts, np.float64))
        return merge_chunks([chunk], np.arange(n, dtype=np.int64), np.arange(n + 1, dtype=np.int64))


def available(files: list[str]) -> bool:
    """Whether :func:`groups` can read ``files`` (local Parquet, native module built)."""
    return _rawgroup is not None and native() and all("://" not in f for f in files)


def _ticks(when: datetime, unit: str) -> int:
    """The first tick of ``unit`` at or after ``when``."""
    us = (when - EPOCH) // timedelta(microseconds=1)
    per = _PER_SECOND[unit]
    return us * (per // 1_000_000) if per >= 1_000_000 else -(-us // (1_000_000 // per))


class _Series:
    """The series the batches name, numbered as they come (two spellings of one id are one
    series, as the SQL joins them on the id as an integer), with the identity of the first row
    naming each and whether it keeps a sketch; :meth:`ranked` puts them in output order, as
    :func:`pipeline.rollup.sql.ids_query` does."""

    def __init__(self, percentiles: Patterns) -> None:
        self.percentiles = percentiles
        self.names = pa.array([], pa.string())  # every spelling seen, and its series
        self.of_name = np.zeros(0, np.int32)
        self.by_sid: dict[int, int] = {}
        self.sids: list[np.ndarray] = []
        self.idents: list[pa.Table] = []
        self.keep = np.zeros(0, np.uint8)

    def lookup(self, batch: pa.Table, part: tuple[pq.ParquetFile, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Per row of ``batch`` (row group ``part``) its index into the batch's dictionary of
        series ids, and per entry its series (``None``: a null id, or one not of 16 hex digits —
        the SQL decides)."""
        import pyarrow.compute as pc

        col = batch[SERIES_ID]
        chunk = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        if chunk.null_count:
            return None
        names, indices = chunk.dictionary, np.ascontiguousarray(to_numpy(chunk.indices, np.int32))
        found = pc.index_in(names, value_set=self.names)
        if found.null_count:
            if not self._register(part, names, found, indices):
                return None
            found = pc.index_in(names, value_set=self.names)
        return indices, np.ascontiguousarray(self.of_name[to_numpy(found, np.int64)])

    def _register(self, part: tuple[pq.ParquetFile, int], names: pa.Array, found: pa.Array,
                  indices: np.ndarray) -> bool:
        """Register the spellings ``names`` holds that are new (``found`` null), with the identity
        of the first row naming each (read now, from row group ``part``); False when one is not
        an id."""
        new = np.flatnonzero(to_numpy(found.is_null(), np.bool_))
        spelt = names.take(from_numpy(new)).cast(pa.string())
        sid = parse_ids(spelt)
        if sid is None:
            return False
        entries, first_row = np.unique(indices, return_index=True)
        row_of = np.zeros(len(names), np.int64)  # the first row naming each entry
        row_of[entries] = first_row
        of_new = np.empty(len(new), np.int32)
        fresh = []
        for k, s in enumerate(sid.tolist()):
            series = self.by_sid.get(s)
            if series is None:
                series = self.by_sid[s] = len(self.by_sid)
                fresh.append(k)
            of_new[k] = series
        if fresh:
            ident = part[0].read_row_group(part[1], columns=IDENTITY, use_threads=False)
            ident = ident.take(from_numpy(row_of[new[fresh]]))
            ident = pa.table({c: ident[c].cast(pa.string()) for c in IDENTITY})
            self.idents.append(ident)
            self.sids.append(sid[fresh])
            self.keep = np.concatenate([self.keep, to_numpy(kept(ident["namespace"], self.percentiles), np.uint8)])
        self.names = pa.concat_arrays([self.names, spelt])
        self.of_name = np.concatenate([self.of_name, of_new])
        return True

    def ranked(self) -> tuple[pa.Table, np.ndarray]:
        """The series table in output order, and each series' rank in it (its row)."""
        ident = pa.concat_tables(self.idents) if self.idents else \
            pa.table({c: pa.array([], pa.string()) for c in IDENTITY})
        sid = np.concatenate(self.sids) if self.sids else np.zeros(0, np.uint64)
        ids, order = ranked_ids(ident, sid)
        rank = np.empty(len(order), np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        return ids, rank


def groups(files: list[str], period: int, lo: datetime, hi: datetime,
           percentiles: Patterns = None) -> tuple[pa.Table, Groups] | None:
    """Raw datapoints of ``files`` with ``lo <= timestamp < hi`` grouped per (series, bucket of
    ``period`` seconds), with the series table (:func:`pipeline.rollup.sql.ids_query`'s: a
    group's rank is its series' row); ``None`` where only the SQL can (module docstring), and for
    a file pyarrow cannot read (the SQL then says what is wrong, as it did before this pass)."""
    if not available(files):
        return None
    try:
        return _groups(files, period, lo, hi, percentiles)
    except (pa.ArrowException, OSError):
        return None


def _row_groups(files: list[str], lo: datetime, hi: datetime) -> list[tuple[pq.ParquetFile, int]] | None:
    """The row groups of ``files`` that may hold times in ``[lo, hi)`` (by their footer's
    statistics, as DuckDB skips them), or ``None`` when a file lacks a column the pass reads or
    holds ``values`` lists."""
    import pyarrow.parquet as pq

    out = []
    for path in files:
        pf = pq.ParquetFile(path, read_dictionary=[SERIES_ID, *IDENTITY])
        if not {*COLUMNS, *IDENTITY} <= set(pf.schema_arrow.names):
            return None
        md = pf.metadata
        paths = [md.row_group(0).column(j).path_in_schema for j in range(md.num_columns)] if md.num_row_groups else []
        col = paths.index("timestamp") if "timestamp" in paths else None
        lists = [j for j, p in enumerate(paths) if p.startswith("values.")]
        for i in range(md.num_row_groups):
            rg = md.row_group(i)
            stats = rg.column(col).statistics if col is not None else None
            if stats is not None and stats.has_min_max and isinstance(stats.min, datetime) \
                    and stats.min.tzinfo is not None and (stats.max < lo or stats.min >= hi):
                continue
            for j in lists:  # every value list null, by the footer
                nulls = rg.column(j).statistics
                if nulls is None or nulls.null_count != rg.num_rows:
                    return None
            out.append((pf, i))
    return out


def _batches(parts: list[tuple[pq.ParquetFile, int]]) -> Iterator[tuple[pa.Table, tuple[pq.ParquetFile, int]]]:
    """The row groups ``parts`` in order, each read by a thread while the one before is added
    (pyarrow decodes without the GIL): at most two ahead, so memory stays that of a few."""
    from concurrent.futures import ThreadPoolExecutor

    def read(part: tuple[pq.ParquetFile, int]) -> tuple[pa.Table, tuple[pq.ParquetFile, int]]:
        return part[0].read_row_group(part[1], columns=list(COLUMNS), use_threads=False), part

    todo = iter(parts)
    with ThreadPoolExecutor(1, thread_name_prefix="wl-read") as pool:
        ahead = deque(pool.submit(read, p) for p in itertools.islice(todo, 2))
        while ahead:
            done = ahead.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                ahead.append(pool.submit(read, nxt))
            yield done


def _groups(files: list[str], period: int, lo: datetime, hi: datetime,
            percentiles: Patterns) -> tuple[pa.Table, Groups] | None:
    parts = _row_groups(files, lo, hi)
    if parts is None or sum(pf.metadata.row_group(i).num_rows for pf, i in parts) > MAX_ROWS:
        return None
    series = _Series(percentiles)
    state = _rawgroup.new(0)
    out = Groups(np.zeros(0, np.int64), {}, [], [], [], False, False)
    for batch, part in _batches(parts):
        ts_type = batch.schema.field("timestamp").type
        if not pa.types.is_timestamp(ts_type) or not all(
                pa.types.is_floating(batch.schema.field(c).type) or pa.types.is_integer(batch.schema.field(c).type)
                for c in PARTIALS) or any(batch[c].null_count for c in PARTIALS):
            return None
        if batch[SERIES_ID].num_chunks > 1:
            batch = batch.unify_dictionaries()
        ids_of = series.lookup(batch, part)
        if ids_of is None:
            return None
        ts = batch["timestamp"].cast(pa.int64())
        tsn = to_numpy(ts, np.int64)
        if ts.null_count:
            tsn = np.where(to_numpy(ts.is_valid(), np.bool_), tsn, np.iinfo(np.int64).min)
        n = batch.num_rows
        grp, bins, counts = np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.float64)
        per = _PER_SECOND[ts_type.unit]
        flags = _rawgroup.accumulate(
            state, *ids_of, np.ascontiguousarray(tsn),
            *(np.ascontiguousarray(to_numpy(batch[c], np.float64)) for c in PARTIALS), series.keep, grp, bins, counts,
            _ticks(lo, ts_type.unit), _ticks(hi, ts_type.unit), period * per, INV_LN_GAMMA, OFFSET, sql.UNLISTED)
        if flags & _NONFINITE:
            return None
        out.weighted |= bool(flags & _WEIGHTED)
        out.repeats |= bool(flags & _BACK)
        out.grps.append(grp)
        out.bins.append(bins)
        out.counts.append(counts)
    ids, rank = series.ranked()
    _rawgroup.rerank(state, rank)
    g_rank, g_bucket, *partials = _rawgroup.groups(state)
    if g_rank is None:  # no datapoint in [lo, hi) (no file, or none of its row groups meets it)
        g_rank, g_bucket, partials = b"", b"", [b""] * len(PARTIALS)
    by_key = _rawgroup.order(state)
    out.order = None if by_key is None else np.frombuffer(by_key, np.int64)
    out.key = (np.frombuffer(g_rank, np.int32).astype(np.int64) << 32) + np.frombuffer(g_bucket, np.int64)
    out.partials = {c: np.frombuffer(v, np.float64) for c, v in zip(PARTIALS, partials, strict=True)}
    return ids, out
