"""The file layout inside a tier partition: chunk files and bucket files, so that a rollup step
replaces only the buckets it recomputed.

A job's rows in a target partition (a ``dt`` day, or a ``month`` for 1h) live in files named
``part-…-<job tag>-t<start epoch s>-<span s>.parquet`` (:func:`tag`), each holding the rows of
the buckets in ``[start, start + span)``:

* a **chunk file** spans one chunk of :data:`CHUNK_BUCKETS` buckets (1m: 10 minutes, 5m: an
  hour, 1h: a day), aligned to UTC epoch multiples of the chunk;
* a **block file** (5m and 1h) spans 2, 4, 8 or 16 settled chunks of an open partition, aligned
  to its start (:func:`blocks`), rows sorted by series and time: the write that settles a block
  merges its files, so a partition's settled part is a few files and each row is rewritten at
  most four more times before the partition closes;
* a **bucket file** spans one bucket; buckets of a chunk that has not *settled* yet (its end plus
  one period is after the data clock, :func:`settled`) are written one file per bucket, so the
  live step rewrites one small file, not the chunk;
* a **partition file** (``t<partition start>-<partition span>``) holds all the job's rows of a
  *closed* partition: one that ends at or before the recompute cutoff ``floor(clock −
  tiers.recompute_window_minutes)``, so no incremental step writes into it again. A write into a
  closed partition (a first build, ``--full``) rewrites all the job's files there as this one
  file, rows sorted by series then time (:data:`SORT_KEYS`) so a one-series query reads a row
  group or two of it; :mod:`pipeline.rollup.settle` merges the files of a partition that closed
  after its last write. A 15-day query of the 5m tier then opens ~30 files, not ~370;
* files of the earlier layout (``part-…-<job tag>.parquet``, the whole partition) span their
  partition; they are rewritten (split into chunks) the first time a step touches them.

Every bucket of a job is in exactly one of its files (:func:`replace_runs` keeps this), so a
reader of the table sees each bucket once. Once a chunk has settled, its bucket files are merged
into its chunk file by the next write to the partition (each row is rewritten once more: an
amortised compaction, bounded by one chunk).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from pipeline.rollup import rowgroups
from pipeline.rollup.assemble import sort_series
from pipeline.rollup.merge import from_numpy, to_numpy
from pipeline.rollup.schema import ROLLUP, ROW_GROUP_ROWS, SERIES_ID, SORT_KEYS
from pipeline.rollup.tiers import Job, partition_range
from pipeline.timeutil import epoch_ms

if TYPE_CHECKING:
    from pipeline.lake.replace import Replace

CHUNK_BUCKETS = {60: 10, 300: 12, 3600: 24}
"""Buckets per chunk file, by period: 1m → 10-minute chunks (≈ 144 files a day), 5m → hourly,
1h → daily."""

BLOCK_CHUNKS = {300: 16, 3600: 16}
"""By period, the largest block of settled chunks merged into one file while a partition is open
(:func:`blocks`). Not for 1m: its rows are five in six of the tiers' rows, a 1m query spans hours
(a few 10-minute chunks), and sorting its blocks cost the first build of 10 M points 13 % more CPU
and 1.5× the peak memory in an A/B run (``benchmarks/bench_rollup.py``'s data; without 1m blocks
the build's CPU and memory were those of the chunk layout, within the load's noise)."""

_RANGE_RE = re.compile(r"-(?P<tag>[A-Za-z]+)(?:-t(?P<start>\d+)-(?P<span>\d+))?\.parquet$")

Run = tuple[int, int]
"""A half-open range of bucket starts ``[lo, hi)`` in epoch milliseconds."""


def partition_ms(values: dict[str, str]) -> Run:
    """``[lo, hi)`` (epoch ms) of the tier partition ``values`` (a ``dt`` day or a ``month``)."""
    lo, hi = partition_range(values)
    return epoch_ms(lo), epoch_ms(hi)


def is_merged(ranges: list[Run], values: dict[str, str]) -> bool:
    """True when a job's files in partition ``values`` (their ``ranges``) are one partition file
    (or one file of the earlier whole-partition layout)."""
    return len(ranges) == 1 and ranges[0] == partition_ms(values)


def chunk_ms(period: int) -> int:
    """Milliseconds spanned by one chunk file of a ``period``-second tier."""
    return period * CHUNK_BUCKETS.get(period, 10) * 1000


def tag(job: Job, start_ms: int, span_ms: int) -> str:
    """The file tag of ``job``'s file spanning ``[start, start + span)``."""
    return f"{job.tag}-t{start_ms // 1000}-{span_ms // 1000}"


def file_range(job: Job, rel: str, values: dict[str, str]) -> Run | None:
    """``[lo, hi)`` (epoch ms) of the buckets a file of ``job`` may hold, from its name; ``None``
    when the file is not ``job``'s. A file of the earlier layout spans its partition."""
    m = _RANGE_RE.search(rel)
    if m is None or m.group("tag") != job.tag:
        return None
    return any_range(rel, values)


def any_range(rel: str, values: dict[str, str]) -> Run | None:
    """``[lo, hi)`` of a tier file of any job (its partition for a file of the earlier layout)."""
    m = _RANGE_RE.search(rel)
    if m is None:
        return None
    if m.group("start") is None:
        lo, hi = partition_range(values)
        return epoch_ms(lo), epoch_ms(hi)
    start = int(m.group("start")) * 1000
    return start, start + int(m.group("span")) * 1000


def in_time_order(rels: list[str]) -> list[str]:
    """Tier files ordered by the start of their range, then name: a merge reads a bucket's source
    rows in time order whatever the files' names, so its sums add in the same order as a
    rebuild's (whose chunk files hold each series' rows in time order)."""
    def start(rel: str) -> tuple[int, str]:
        m = _RANGE_RE.search(rel)
        return (int(m.group("start")) if m and m.group("start") else 0), rel

    return sorted(rels, key=start)


def settled(chunk_end_ms: int, period: int, clock_ms: int) -> bool:
    """A chunk has settled when its end plus one period is at or before the data clock (data
    that late is rare: it still lands, by a rewrite of the chunk file)."""
    return chunk_end_ms + period * 1000 <= clock_ms


def overlaps(lo: int, hi: int, runs: list[Run]) -> bool:
    return any(lo < r_hi and r_lo < hi for r_lo, r_hi in runs)


def _ms(t: pa.Table) -> np.ndarray:
    return to_numpy(t["timestamp"].cast(pa.int64()), np.int64)


def _outside(t: pa.Table, runs: list[Run], series: tuple[str, ...] | None = None) -> pa.Table:
    """Rows of ``t`` whose bucket is in none of ``runs`` or whose series is not in ``series``
    (``None``: every series)."""
    ms = _ms(t)
    inside = np.zeros(len(ms), dtype=bool)
    for lo, hi in runs:
        inside |= (ms >= lo) & (ms < hi)
    if series is not None and inside.any():
        import pyarrow.compute as pc

        mine = pc.is_in(t[SERIES_ID], value_set=pa.array(series, pa.string()))
        inside &= to_numpy(pc.cast(mine, pa.uint8()), np.uint8).astype(bool)
    return t.filter(from_numpy(~inside)) if inside.any() else t


def file_starts(buckets: np.ndarray, period: int, clock_ms: int, p_lo: int, p_hi: int,
                kept: list[Run] | None = None, closed: bool = False
                ) -> tuple[np.ndarray, dict[int, int], list[Run]]:
    """Where the rows of a job's buckets go in the partition ``[p_lo, p_hi)``: per bucket start
    of ``buckets`` (epoch ms), the start of its file; each file's span (``{start: span}``); and
    the blocks (which also take the ``kept`` files inside them).
    In a ``closed`` partition one partition file; else per settled chunk its chunk file, per
    bucket of a chunk that has not settled a bucket file (:func:`settled`), and the chunks that
    :func:`blocks` merges — given the files ``kept`` in the partition beside them — go to their
    block file. The same answer for the same buckets in any order: the engines order their rows
    by it (:attr:`pipeline.rollup.engine.Task.layout`), so :func:`split` cuts slices."""
    if closed:
        return np.full(len(buckets), p_lo, np.int64), {p_lo: p_hi - p_lo}, []
    span = chunk_ms(period)
    chunk = buckets - buckets % span
    is_chunk = chunk + span + period * 1000 <= clock_ms
    key = np.where(is_chunk, chunk, buckets)
    widths = {int(k): (span if c else period * 1000) for k, c in zip(*_first_of_each(key, is_chunk), strict=True)}
    spans = blocks([*(kept or []), *((k, k + w) for k, w in widths.items())], p_lo, p_hi, period, clock_ms)
    for lo, hi in spans:
        key = np.where((key >= lo) & (key < hi), lo, key)
        widths = {k: w for k, w in widths.items() if not lo <= k < hi}
        widths[lo] = hi - lo
    return key, widths, spans


def distinct_buckets(ms: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct bucket starts (aligned epoch ms) of rows ``ms`` (non-empty), ascending, and
    per row the index of its bucket among them: bucket starts of one partition are few and dense,
    so a table over their range replaces a sort of the rows."""
    step = period * 1000
    first = int(ms.min())
    idx = (ms - first) // step
    present = np.flatnonzero(np.bincount(idx))
    position = np.zeros(int(present[-1]) + 1, np.int64)
    position[present] = np.arange(len(present))
    return first + present * step, position[idx]


def order_by(of_bucket: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stable permutation that sorts rows by ``of_bucket[which]`` (a value per distinct bucket,
    ``which`` each row's bucket: :func:`distinct_buckets`), and those values in that order. The
    values are few (a partition's files), so rows are sorted by their rank among them, a 16-bit
    code numpy sorts by radix: a stable sort of 1.7 M int64 keys took 0.15 s, this 0.01 s."""
    values, code = np.unique(of_bucket, return_inverse=True)
    dtype = np.uint8 if len(values) <= 1 << 8 else np.uint16 if len(values) <= 1 << 16 else np.int64
    order = np.argsort(code.astype(dtype)[which], kind="stable")
    return order, values[code[which[order]]]


def _first_of_each(key: np.ndarray, flag: np.ndarray) -> tuple[list[int], list[bool]]:
    """The distinct values of ``key`` and ``flag`` at the first of each (few distinct keys)."""
    uniq, first = np.unique(key, return_index=True)
    return uniq.tolist(), flag[first].tolist()


def layout(period: int, clock_ms: int, values: dict[str, str], closed: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The file of each bucket start of a job's rows written into the partition ``values`` holding
    no other files (a first build): :func:`file_starts` as a function of the bucket starts, for
    :attr:`pipeline.rollup.engine.Task.layout`."""
    p_lo, p_hi = partition_ms(values)

    def starts(buckets: np.ndarray) -> np.ndarray:
        return file_starts(buckets, period, clock_ms, p_lo, p_hi, closed=closed)[0]

    return starts


def split(rows: pa.Table, period: int, clock_ms: int, p_lo: int, p_hi: int, kept: list[Run] | None = None,
          closed: bool = False) -> tuple[list[tuple[int, int, pa.Table]], list[Run]]:
    """``rows`` as ``(start, span, rows)`` per output file (:func:`file_starts`; order of ``rows``
    kept inside each), and the blocks of the partition. A file whose rows are one run of
    ``rows`` is a zero-copy slice (the engines put rows in file order:
    :attr:`pipeline.rollup.engine.Task.layout`), any other a ``take`` of its rows (a filter per
    file cost a pass over every row and its sketch lists: 0.7 s for 1.7 M 1m rows)."""
    if not rows.num_rows:
        return [], file_starts(np.zeros(0, np.int64), period, clock_ms, p_lo, p_hi, kept, closed)[2]
    buckets, which = distinct_buckets(_ms(rows), period)
    at, widths, spans = file_starts(buckets, period, clock_ms, p_lo, p_hi, kept, closed)
    order, key = order_by(at, which)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))).tolist()
    out = []
    for a, b in zip(starts, [*starts[1:], len(key)], strict=True):
        k, first_row = int(key[a]), int(order[a])
        contiguous = int(order[b - 1]) - first_row == b - a - 1
        out.append((k, widths[k], rows.slice(first_row, b - a) if contiguous else rows.take(from_numpy(order[a:b]))))
    return out, spans


def replace_runs(tx: Replace, job: Job, folder: str, values: dict[str, str], runs: list[Run],
                 rows: pa.Table, clock_ms: int, series: tuple[str, ...] | None = None, *,
                 cutoff_ms: int | None = None, written: dict[str, pa.Table | None] | None = None) -> int:
    """In the open commit ``tx``: make ``job``'s rows of partition ``folder`` in the bucket ranges
    ``runs`` (of the ``series`` given; ``None``: all) exactly ``rows`` (all inside them), keep its
    other rows, and lay them out per :func:`split`. Rewrites only the files whose range meets
    ``runs`` and the bucket files of settled chunks — except in a partition closed at
    ``cutoff_ms`` (its end at or before it; ``None``: none is), whose files are all rewritten as
    one partition file (nothing is written when they already are one and ``runs`` is empty).
    Returns the rows written. ``written`` (if given) gets each file added, with its rows exactly
    as written, and each file retired, with ``None`` (:class:`pipeline.rollup.carry.Carry`)."""
    span = chunk_ms(job.period)
    p_lo, p_hi = partition_ms(values)
    closed = cutoff_ms is not None and p_hi <= cutoff_ms
    mine: list[tuple[str, Run]] = []
    for rel in tx.files(folder):
        r = file_range(job, rel, values)
        if r is not None:
            mine.append((rel, r))
    if closed and not runs and (not mine or is_merged([r for _, r in mine], values)):
        return 0
    victims = []
    for rel, (lo, hi) in mine:
        c = lo - lo % span
        bucket_file = hi - lo < span and hi <= c + span and settled(c + span, job.period, clock_ms)
        if closed or overlaps(lo, hi, runs) or bucket_file:
            victims.append(rel)
    parts = []
    for rel in victims:
        rest = _outside(tx.read(rel, ROLLUP), runs, series)
        if rest.num_rows:
            parts.append(rest)
        tx.retire(rel)
        if written is not None:
            written[rel] = None
    sort_by = None  # the engine's rows are in SORT_KEYS order already
    if parts:
        rows, sort_by = pa.concat_tables([*parts, rows]), SORT_KEYS
    kept = [(rel, r) for rel, r in mine if rel not in victims]
    out: list[tuple[int, int, pa.Table, list[str] | None]] = []
    cut, spans = split(rows, job.period, clock_ms, p_lo, p_hi, [r for _, r in kept], closed)
    pieces = {a: (w, t) for a, w, t in cut}
    for lo, hi in spans:  # a block: its rows, and the kept files inside it merged, sorted by series
        inside = [pieces.pop(lo)[1]] if lo in pieces else []
        for rel, (a, b) in kept:
            if lo <= a and b <= hi:
                inside.append(tx.read(rel, ROLLUP))
                tx.retire(rel)
                if written is not None:
                    written[rel] = None
        out.append((lo, hi - lo, pa.concat_tables(inside) if len(inside) > 1 else inside[0], SORT_KEYS))
    # chunk and bucket files as the rows are; a partition file sorted (the engine's rows already are)
    out += [(a, w, t, SORT_KEYS if closed else sort_by) for a, (w, t) in pieces.items()]
    n = 0
    for start, width, t, order in out:  # a partition or block file: series-aligned row groups (rowgroups.py)
        if order:  # sorted here (as Table.sort_by sorts, in a fraction of its time), not by the writer
            t = sort_series(t)
        rel = tx.add(values, t, tag=tag(job, start, width), row_group_size=ROW_GROUP_ROWS,
                     row_groups=rowgroups.lengths if width > span else None)
        if written is not None:
            written[rel] = t
        n += t.num_rows
    return n


def blocks(ranges: list[Run], p_lo: int, p_hi: int, period: int, clock_ms: int) -> list[Run]:
    """The blocks of an open partition ``[p_lo, p_hi)`` whose files (of ``ranges``) are to be
    merged into one: the largest blocks of 2, 4, … :data:`BLOCK_CHUNKS` chunks, aligned to the
    partition's start, that have settled and hold two files or more. A partition's settled part
    is then a few files (a day of 5m: at most 4, not 24), each row being rewritten once per
    doubling (at most 4 times) before the day closes, and no merge rewrites more than
    :data:`BLOCK_CHUNKS` chunks (a live step's cost stays bounded)."""
    span = chunk_ms(period)
    out: list[Run] = []
    width = BLOCK_CHUNKS.get(period, 1)
    while width >= 2:
        b = span * width
        for lo, _ in ranges:
            a = p_lo + (lo - p_lo) // b * b
            if (a + b <= p_hi and settled(a + b, period, clock_ms) and (a, a + b) not in out
                    and not any(x <= a and a + b <= y for x, y in out)
                    and sum(1 for r_lo, r_hi in ranges if a <= r_lo and r_hi <= a + b) >= 2):
                out.append((a, a + b))
        width //= 2
    return out
