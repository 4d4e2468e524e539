"""Commits of flushed partition buffers: de-duplicate, write one Parquet file, record it.

:class:`Committer` runs commits on a small thread pool so that Parquet encoding, compression
and fsync (which release the GIL) overlap with reading the next input. Commits of one partition
run strictly one after another, in submission order; different partitions commit in parallel,
each holding its own partition lock. In-flight rows count as *pending* (not committed) until
their commit returns, so a stream checkpoint never passes them.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.lake import layout, ledger
from pipeline.lake.locks import locked
from pipeline.loader import keyhash, segments
from pipeline.loader.index import KeyIndex
from pipeline.loader.partition import first_occurrences, key_array

if TYPE_CHECKING:
    from pipeline.lake import Lake


@dataclass
class Work:
    """One partition's flushed buffer."""

    table_name: str
    folder: str
    tables: list[pa.Table]
    rows: int
    nbytes: int
    origins: set[str] = field(default_factory=set)
    origin_count: int = 0  # distinct origins (``origins`` may hold only the first ones)


@dataclass
class Outcome:
    table_name: str
    rows: int = 0
    duplicates: int = 0
    files: int = 0
    bytes: int = 0
    commit: str | None = None


def commit(lake: Lake, index: KeyIndex, work: Work, commit_id: str) -> Outcome:
    """De-duplicate ``work`` within itself and against the partition, then write and record it."""
    name, folder = work.table_name, work.folder
    table = pa.concat_tables(work.tables) if len(work.tables) > 1 else work.tables[0]
    keys = key_array(name, table)
    keep = first_occurrences(keys)
    if keep is not None:
        idx = pa.array(keep)
        table, keys = table.take(idx), keys.take(idx)
    out = Outcome(name, duplicates=work.rows - table.num_rows)
    hashes, times = keyhash.key_hashes(keys), keyhash.event_ms(name, table)
    with locked(lake, folder):
        state = index.refresh(folder)
        seen = index.duplicates(state, keys, hashes, times)
        n_seen = int(seen.sum())
        if n_seen:
            fresh = ~seen
            table, hashes, times = table.filter(pa.array(fresh)), hashes[fresh], times[fresh]
        out.duplicates += n_seen
        if table.num_rows == 0:
            return out
        segment = name == "metrics" and segments.enabled(lake)  # the Flink rollup's input
        if segment:
            segments.begin(lake, folder, commit_id)  # a crash from here on is settled later
        info = lake.write_partition(name, layout.parse_partition_path(name, folder), table, tag=commit_id)
        rel = info.path
        ledger.write_entry(lake, name, folder, commit_id, "load",
                           files=[{"path": rel, "rows": info.rows, "bytes": info.bytes}],
                           rows=info.rows, origins=sorted(work.origins)[:20],
                           origin_count=max(work.origin_count, len(work.origins)))
        if segment:
            segments.write_segment(lake, commit_id, table)
            segments.finish(lake, commit_id)
        index.add_file(state, rel, hashes, times)
    out.rows, out.files, out.bytes, out.commit = info.rows, 1, info.bytes, commit_id
    return out


class Committer:
    """Runs commits in the background, serially per partition; see the module docstring."""

    def __init__(self, lake: Lake, workers: int = 2):
        self.lake = lake
        self.ids = ledger.CommitIds(ledger.new_run_id())
        self.indexes: dict[str, KeyIndex] = {}
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wl-commit")
        self.inflight: dict[str, tuple[Future[Outcome], Work]] = {}
        self.done: list[Outcome] = []
        self._mu = threading.Lock()

    def index(self, table_name: str) -> KeyIndex:
        if table_name not in self.indexes:
            if table_name == "metrics" and segments.enabled(self.lake):
                segments.settle(self.lake)  # segments a crashed loader's last commits owe Flink
            self.indexes[table_name] = KeyIndex(self.lake, table_name)
        return self.indexes[table_name]

    def submit(self, work: Work) -> None:
        """Queue ``work``; waits first for the previous commit of the same partition."""
        prev = self.inflight.pop(work.folder, None)
        if prev is not None:
            self._collect(prev[0])
        fut = self.pool.submit(commit, self.lake, self.index(work.table_name), work, self.ids.next())
        self.inflight[work.folder] = (fut, work)

    def inflight_bytes(self) -> int:
        return sum(w.nbytes for _, w in self.inflight.values())

    def pending(self, table_name: str) -> list[pa.Table]:
        return [t for _, w in self.inflight.values() if w.table_name == table_name for t in w.tables]

    def wait_oldest(self) -> None:
        """Wait for the oldest in-flight commit (bounds memory held by in-flight work)."""
        if self.inflight:
            folder = next(iter(self.inflight))
            self._collect(self.inflight.pop(folder)[0])

    def reap(self) -> None:
        """Collect every commit that has finished (raises the first failure)."""
        for folder in [f for f, (fut, _) in self.inflight.items() if fut.done()]:
            self._collect(self.inflight.pop(folder)[0])

    def drain(self) -> None:
        """Wait for every in-flight commit."""
        while self.inflight:
            self.wait_oldest()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self.pool.shutdown(wait=True)

    def _collect(self, fut: Future[Outcome]) -> None:
        self.done.append(fut.result())
