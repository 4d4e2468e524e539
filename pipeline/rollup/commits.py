"""A rollup run's commits, made on a background thread while the next job computes.

In a batch run of the chain (:func:`pipeline.rollup.runner.run_rollups`) writing a tier's files
(Parquet encoding and zstd, ~a third of the 1m tier's time) used to stop everything else; the
next job merges the rows it needs from memory (:mod:`pipeline.rollup.carry`) and has no need to
wait. A :class:`Commits` takes each task's open commit (:func:`pipeline.lake.replace.open_commit`,
its files decided in the calling thread) and makes it on a background thread while the caller
goes on. An open commit holds its table's lock, so a table's commits are made one at a time, in
order (the caller opening the next one waits for the lock); commits on different tables are made
side by side (a tier's few large files then write beside the next tier's). At most
:data:`QUEUE` commits are handed over and not made, so a fast producer holds no more than that
many tables for writing.

What the rest of the run sees stays as if each commit had been made when it was handed over:

* :meth:`Commits.listing` is the listing of a table once every commit handed over is made (the
  files they add, without size and time; the files they retire, gone), and names the partition
  folders they touch: a job plans from it without waiting;
* a job that must read source files (not in memory) waits for that table's commits
  (:meth:`Commits.wait`); a commit on a table waits for the table's lock, which the commits
  before it hold until made;
* the rollup state a task records (the fingerprints of its sources, which only exist once their
  files are written) is recorded by :meth:`Commits.settle` once the task's commit and every
  commit handed over before it are made — a run killed before that redoes the task, as one
  killed before its commit would (every commit is atomic, and a task rebuilds whole buckets);
* a failed commit is raised by the next :meth:`~Commits.settle` or :meth:`~Commits.wait`, and
  the commits that had not started then are not made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.rollup.state import SourceFile, fingerprint, listing

if TYPE_CHECKING:
    from pipeline.lake import Lake
    from pipeline.lake.replace import Replace

QUEUE = 3
"""At most this many commits are handed over and not yet made (and as many made at once);
:meth:`Commits.submit` waits. A table has at most one (its lock), so a chain's three tiers
(1m, 5m, 1h) never wait for a slot: a large first build holds at most one tier's table per
target being written, besides what :class:`~pipeline.rollup.carry.Carry` keeps."""


@dataclass
class _Pending:
    table: str
    added: list[str]
    retired: list[str]
    future: Future[Any]
    record: Callable[[], None] | None = None  # records the task's state once made


@dataclass
class Commits:
    """Commits of one run, made on background threads (see the module docstring)."""

    lake: Lake
    _pool: ThreadPoolExecutor = field(init=False)
    _queue: list[_Pending] = field(default_factory=list, init=False)
    _slots: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(QUEUE), init=False)
    _failed: BaseException | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(QUEUE, thread_name_prefix="wl-commit")

    def submit(self, table: str, tx: Replace, record: Callable[[], None] | None = None) -> None:
        """Make the open commit ``tx`` on ``table`` in the background, then call ``record`` from a
        later :meth:`settle` (in the caller's thread). Waits while :data:`QUEUE` commits are
        pending."""
        self._slots.acquire()

        def make() -> None:
            try:
                if self._failed is not None:
                    tx.abort()
                    raise RuntimeError("not committed: an earlier commit of the run failed")
                try:
                    tx.finish()
                except BaseException as exc:
                    self._failed = exc
                    raise
            finally:
                self._slots.release()

        self._queue.append(_Pending(table, tx.added, tx.retired, self._pool.submit(make), record))

    def listing(self, table: str) -> tuple[dict[str, list[SourceFile]], set[str]]:
        """``(listing, touched)``: :func:`pipeline.rollup.state.listing` of ``table`` as it will
        be once every commit handed over is made (files still to be written have size and time
        ``-1``), and the partition folders those commits change."""
        # the commits not made before the listing (one made while listing is applied again: same files)
        todo = [p for p in self._queue if p.table == table and not p.future.done()]
        files = listing(self.lake, table)
        touched: set[str] = set()
        for p in todo:
            for rel in p.retired:
                folder = rel.rsplit("/", 1)[0]
                touched.add(folder)
                files[folder] = [f for f in files.get(folder, []) if f.rel != rel]
            for rel in p.added:
                folder = rel.rsplit("/", 1)[0]
                touched.add(folder)
                kept = [f for f in files.get(folder, []) if f.rel != rel]
                files[folder] = sorted([*kept, SourceFile(rel, -1, -1)], key=lambda f: f.rel)
        return {k: v for k, v in sorted(files.items()) if v}, touched

    def fingerprints(self, table: str, folders: list[str]) -> dict[str, str]:
        """The fingerprints of ``table``'s partition ``folders`` as listed now (call once the
        commits touching them are made)."""
        files = listing(self.lake, table)
        return {f: fingerprint(files.get(f, [])) for f in folders}

    def pending(self, table: str) -> bool:
        """Whether some commit on ``table`` is not made yet."""
        return any(p.table == table and not p.future.done() for p in self._queue)

    def wait(self, table: str | None = None) -> None:
        """Wait until every commit on ``table`` (``None``: every commit) is made; record what
        can be (:meth:`settle`); raise the first failure."""
        for p in list(self._queue):
            if table is None or p.table == table:
                p.future.exception()
        self.settle()

    def settle(self) -> None:
        """Record the state of every task whose commit, and every commit before it, is made;
        raise the first failure."""
        while self._queue and self._queue[0].future.done():
            p = self._queue.pop(0)
            p.future.result()
            if p.record is not None:
                p.record()

    def close(self) -> None:
        """Wait for the commits handed over (made or failed), then stop the threads."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Commits:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
