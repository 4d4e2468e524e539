"""The Firehose-like loader: buffer per partition, de-duplicate, write Parquet, commit.

Usage::

    loader = Loader(lake, settings.loader)
    for batch in pipeline.sources.read("cloudtrail", ["logs/"]):
        loader.add(batch)
    summary = loader.close()

Guarantees:

- **Buffering** (Firehose buffering hints): each destination partition has its own buffer, which
  is flushed when it holds ``buffer_mib`` of Arrow data or is ``buffer_seconds`` old, whichever
  comes first; beyond ``max_buffered_mib`` over all partitions the buffers written to least
  recently flush first (with time-ordered input those partitions are complete, so each still
  becomes one file), so
  memory is bounded by these settings, not by the input.
- **Exactly once**: a flush de-duplicates by record key within itself, then, holding the
  partition lock, against every visible file of the partition (:mod:`pipeline.loader.index`),
  writes one complete file atomically and records a ledger entry. A crash at any instant
  followed by a rerun leaves every key exactly once; a second load of the same input writes
  nothing.
- **Accounting**: ``records_in == loaded + rejected + duplicates`` (checked in :meth:`close`);
  input skipped on purpose by readers (digest files, control messages) is counted apart.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.console import Progress, human_bytes, human_count
from pipeline.errors import PipelineError
from pipeline.lake import layout
from pipeline.loader import rejects
from pipeline.loader.commit import Committer, Work
from pipeline.loader.partition import TimeBounds, conform, split, stamp_ingest_time, time_bounds, validate
from pipeline.sources.base import Batch, Rejection
from pipeline.timeutil import utcnow

if TYPE_CHECKING:
    from pipeline.config import LoaderSettings
    from pipeline.lake import Lake

MIB = 1 << 20


class AccountingError(PipelineError):
    """records in != loaded + rejected + duplicates: a loader bug, never expected."""


@dataclass
class LoadSummary:
    """What one loader run did."""

    records_in: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0
    files: int = 0
    bytes: int = 0
    error_files: int = 0
    adopted_files: int = 0
    inputs: int = 0
    input_bytes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    per_table: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def balanced(self) -> bool:
        return self.records_in == self.loaded + self.rejected + self.duplicates

    def lines(self) -> dict[str, str]:
        """Summary lines for :func:`pipeline.console.summary`."""
        rate = self.records_in / self.seconds if self.seconds > 0 else 0.0
        out = {
            "inputs": f"{human_count(self.inputs)} ({human_bytes(self.input_bytes)})",
            "records in": human_count(self.records_in),
            "loaded": human_count(self.loaded) + (
                " (" + ", ".join(f"{k} {human_count(v)}" for k, v in sorted(self.per_table.items())) + ")"
                if self.per_table else ""),
            "rejected": human_count(self.rejected) + (f" ({self.error_files} error files)" if self.error_files else ""),
            "duplicates dropped": human_count(self.duplicates),
            "files written": f"{self.files} ({human_bytes(self.bytes)})",
            "throughput": f"{human_count(rate)} records/s in {self.seconds:.1f} s",
        }
        if self.skipped:
            out["skipped"] = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
        if self.adopted_files:
            out["adopted"] = f"{self.adopted_files} complete files found without a ledger entry"
        return out


def combine(summaries: list[LoadSummary], *, seconds: float) -> LoadSummary:
    """The sum of several loaders' summaries (counts and per-key tallies add), taking ``seconds``."""
    out = LoadSummary(seconds=seconds)
    for s in summaries:
        for f in dataclasses.fields(LoadSummary):
            value = getattr(s, f.name)
            if isinstance(value, dict):
                tally = getattr(out, f.name)
                for k, v in value.items():
                    tally[k] = tally.get(k, 0) + v
            elif f.name != "seconds":
                setattr(out, f.name, getattr(out, f.name) + value)
    return out


MERGE_FAN_IN = 32
"""Parts of one size class merged into one table (see :meth:`_Buffer.append`)."""
MAX_ORIGINS = 1000
"""Origins remembered per buffer for the ledger (the ledger keeps 20 and the count)."""


@dataclass
class _Buffer:
    table_name: str
    folder: str
    tables: list[pa.Table] = field(default_factory=list)
    nbytes: int = 0
    rows: int = 0
    since: float = 0.0
    origins: set[str] = field(default_factory=set)
    touched: int = 0
    levels: list[int] = field(default_factory=list)
    origin_count: int = 0

    def append(self, part: pa.Table, origin: str) -> None:
        """Add ``part``; merge the newest :data:`MERGE_FAN_IN` parts of one level into one table.

        Each Arrow table carries a fixed cost per column buffer that ``nbytes`` does not count
        (about 100 KB for a one-row CloudTrail table), so 100,000 one-event files held as
        100,000 tables took gigabytes under a 64 MiB buffer. Merging like a log-structured tree
        keeps at most ``MERGE_FAN_IN`` tables per level (a few dozen in all) and copies each row
        about log32(parts) times.
        """
        self.tables.append(part)
        self.levels.append(0)
        while len(self.levels) >= MERGE_FAN_IN and len(set(self.levels[-MERGE_FAN_IN:])) == 1:
            level = self.levels[-1]
            merged = pa.concat_tables(self.tables[-MERGE_FAN_IN:]).combine_chunks()
            del self.tables[-MERGE_FAN_IN:], self.levels[-MERGE_FAN_IN:]
            self.tables.append(merged)
            self.levels.append(level + 1)
        if origin not in self.origins:
            self.origin_count += 1
            if len(self.origins) < MAX_ORIGINS:
                self.origins.add(origin)


class Loader:
    """Loads reader :class:`Batch` es into the lake; see the module docstring for guarantees."""

    def __init__(self, lake: Lake, settings: LoaderSettings, *, progress: Progress | None = None,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utcnow):
        self.lake, self.settings, self.progress = lake, settings, progress
        self.clock, self.now = clock, now
        self.buffer_bytes = settings.buffer_mib * MIB
        self.max_buffered = settings.max_buffered_mib * MIB
        self.buffers: dict[str, _Buffer] = {}
        self.buffered_bytes = 0
        self._touch = 0
        self.committer = Committer(lake, workers=2)
        self.summary = LoadSummary()
        self._t0 = time.perf_counter()

    # -- input ---------------------------------------------------------------------------------

    def add(self, batch: Batch) -> None:
        """Accept one batch: validate, write its rejections, buffer its rows by partition."""
        s = self.summary
        s.records_in += batch.records_in
        s.inputs += 1
        s.input_bytes += batch.raw_bytes
        for k, v in batch.skipped.items():
            s.skipped[k] = s.skipped.get(k, 0) + v
        rejections = list(batch.rejections)
        table = batch.table
        if table.num_rows:
            table = conform(batch.table_name, table, batch.origin)
            table = stamp_ingest_time(table, self.now())
            table, bad = validate(batch.table_name, table, self._bounds(batch.table_name))
            rejections += bad
        self._reject(rejections)
        for values, part in split(batch.table_name, table):
            folder = layout.partition_path(batch.table_name, values)
            buf = self.buffers.get(folder)
            if buf is None:
                buf = self.buffers[folder] = _Buffer(batch.table_name, folder, since=self.clock())
            buf.append(part, batch.origin)
            self._touch += 1
            buf.touched = self._touch
            buf.rows += part.num_rows
            buf.nbytes += part.nbytes
            self.buffered_bytes += part.nbytes
            if buf.nbytes >= self.buffer_bytes:
                self._flush(folder)
        if self.buffered_bytes + self.committer.inflight_bytes() > self.max_buffered:
            for folder in sorted(self.buffers, key=lambda f: self.buffers[f].touched):
                self._flush(folder)
                if self.buffered_bytes <= self.max_buffered // 2:
                    break
            while self.committer.inflight and (self.buffered_bytes + self.committer.inflight_bytes()
                                               > self.max_buffered):
                self.committer.wait_oldest()
            self._apply()
        if self.progress is not None:
            self.progress.advance(batch.records_in, f"loaded {human_count(s.loaded)}")
        self.tick()

    def add_all(self, batches: Iterable[Batch]) -> LoadSummary:
        """Add every batch, then :meth:`close`."""
        for b in batches:
            self.add(b)
        return self.close()

    def tick(self) -> None:
        """Flush every buffer that is ``buffer_seconds`` old (call this while idle, too)."""
        limit = self.settings.buffer_seconds
        now = self.clock()
        for folder in [f for f, b in self.buffers.items() if now - b.since >= limit]:
            self._flush(folder)

    def flush(self) -> None:
        """Flush every buffer now."""
        for folder in list(self.buffers):
            self._flush(folder)

    def pending(self, table_name: str) -> list[pa.Table]:
        """Rows of ``table_name`` buffered or being committed (not yet committed)."""
        return [t for b in self.buffers.values() if b.table_name == table_name
                for t in b.tables] + self.committer.pending(table_name)

    def sync(self) -> None:
        """Wait for every commit in flight and update the summary (buffers stay buffered)."""
        self.committer.drain()
        self._apply()

    def close(self) -> LoadSummary:
        """Flush everything and return the summary; raises AccountingError if counts disagree."""
        try:
            self.flush()
        finally:
            self.committer.close()
        self._apply()
        s = self.summary
        s.seconds = time.perf_counter() - self._t0
        s.adopted_files = sum(i.adopted for i in self.committer.indexes.values())
        if self.progress is not None:
            self.progress.close()
        if not s.balanced():
            raise AccountingError(f"records in {s.records_in} != loaded {s.loaded} + rejected "
                                  f"{s.rejected} + duplicates {s.duplicates}")
        return s

    def _bounds(self, table_name: str) -> TimeBounds:
        st = self.settings
        return time_bounds(table_name, self.now(), future_minutes=st.max_future_minutes,
                           metrics_future_minutes=st.metrics_future_minutes,
                           backfill=st.backfill, max_age_days=st.max_age_days)

    # -- output --------------------------------------------------------------------------------

    def _reject(self, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        self.summary.rejected += len(rejections)
        by_source: dict[str, list[Rejection]] = {}
        for r in rejections:
            by_source.setdefault(r.source, []).append(r)
        for source, items in by_source.items():
            if rejects.write(self.lake, source, items, self.now()) is not None:
                self.summary.error_files += 1

    def _flush(self, folder: str) -> None:
        buf = self.buffers.pop(folder, None)
        if buf is None:
            return
        self.buffered_bytes -= buf.nbytes
        self.committer.submit(Work(buf.table_name, folder, buf.tables, buf.rows, buf.nbytes, buf.origins,
                                   buf.origin_count))
        while len(self.committer.inflight) > 4:
            self.committer.wait_oldest()
        self._apply()

    def _apply(self) -> None:
        """Fold finished commits into the summary."""
        self.committer.reap()
        s = self.summary
        for o in self.committer.done:
            s.duplicates += o.duplicates
            if o.commit is not None:
                s.loaded += o.rows
                s.files += o.files
                s.bytes += o.bytes
                s.per_table[o.table_name] = s.per_table.get(o.table_name, 0) + o.rows
        self.committer.done.clear()
