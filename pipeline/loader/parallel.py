"""Bulk ingest in several processes, each loading its own share of the files.

Decompression and JSON parsing dominate bulk ingest and are per-file work, so
:func:`ingest_parallel` splits the files into ``workers`` contiguous shares (in name order,
balanced by stored size) and forks one process per share that reads *and* loads it with its own
:class:`~pipeline.loader.Loader`. Nothing crosses between processes but progress counts and the
final summaries: no rows are copied to a parent, which measured ~15 % faster than readers handing
Arrow tables to one writing parent.

Guarantees are the loader's, unchanged: two loaders on one lake serialise their commits to a
partition with the partition lock and de-duplicate against what the other committed, so every
key ends up exactly once (which copy of a key found in two shares is kept can depend on timing;
the set of keys loaded does not). CloudTrail S3 keys and most exports are named by time, so the
shares mostly cover different hours and a partition still gets about one file per load.
``loader.max_buffered_mib`` is split between the processes, so memory stays within the setting.
The summary is the sum of the workers' (``records in = loaded + rejected + duplicates`` holds
for each, so for the sum). A worker dies with its parent (``PR_SET_PDEATHSIG`` on Linux).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import queue
import signal
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.console import Progress
from pipeline.errors import PipelineError
from pipeline.loader.core import Loader, LoadSummary, combine

if TYPE_CHECKING:
    from pipeline.config import LoaderSettings
    from pipeline.lake import Lake
    from pipeline.sources.locations import Unit


class WorkerFailed(PipelineError):
    """An ingest worker process failed; carries its one-line error."""


def shares(units: Sequence[Unit], n: int) -> list[list[str]]:
    """Split ``units`` into at most ``n`` non-empty contiguous runs of about equal stored size
    (a unit of unknown size counts as the average); returns their origins, in order."""
    if not units:
        return []
    known = [u.size for u in units if u.size >= 0]
    avg = sum(known) / len(known) if known else 1.0
    sizes = [float(u.size) if u.size >= 0 else avg for u in units]
    total = sum(sizes) or float(len(units))
    n = max(1, min(n, len(units)))
    out: list[list[str]] = [[] for _ in range(n)]
    acc = 0.0
    for u, size in zip(units, sizes, strict=True):
        k = min(int(acc / total * n), n - 1) if total else 0
        out[k].append(u.origin)
        acc += size
    return [s for s in out if s]


class _QueueProgress(Progress):
    """Progress that sends its counts to the parent (at most twice a second)."""

    def __init__(self, q: Any, worker: int):
        super().__init__("", enabled=False)
        self.q, self.worker, self.pending, self.sent_at = q, worker, 0, 0.0

    def advance(self, n: int = 1, note: str = "") -> None:
        self.pending += n
        now = time.monotonic()
        if now - self.sent_at >= 0.5:
            self.close()
            self.sent_at = now

    def close(self) -> None:
        if self.pending:
            self.q.put(("progress", self.worker, self.pending))
            self.pending = 0


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker outlives a killed parent
        pass


def _worker(i: int, lake: Lake, settings: LoaderSettings, kind: str, origins: list[str],
            endpoint_url: str | None, options: dict[str, Any], q: Any) -> None:
    from pipeline.sources import read

    _die_with_parent()
    try:
        loader = Loader(lake, settings, progress=_QueueProgress(q, i))
        summary = loader.add_all(read(kind, origins, endpoint_url=endpoint_url, threads=1,
                                      limits=settings.limits(), **options))
        q.put(("done", i, summary))
    except BaseException as exc:  # reported to the parent, which raises it
        q.put(("error", i, f"{type(exc).__name__}: {exc}"))


def ingest_parallel(lake: Lake, settings: LoaderSettings, kind: str, units: Sequence[Unit], *, workers: int,
                    endpoint_url: str | None = None, quiet: bool = True, **options: Any) -> LoadSummary:
    """Load ``units`` as ``kind`` in ``workers`` processes; returns the summed summary.

    Raises:
        WorkerFailed: a worker raised or died; what the others committed stays committed (a rerun
            loads the rest and skips what is already there).
    """
    parts = shares(units, workers)
    n = len(parts)
    wsettings = dataclasses.replace(settings, max_buffered_mib=max(1, settings.max_buffered_mib // n))
    progress = Progress(f"ingest {kind}", enabled=not quiet)
    t0 = time.perf_counter()
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(i, lake, wsettings, kind, part, endpoint_url, options, q),
                         daemon=True) for i, part in enumerate(parts)]
    for p in procs:
        p.start()
    done: dict[int, LoadSummary] = {}
    try:
        while len(done) < n:
            try:
                msg = q.get(timeout=1.0)
            except queue.Empty:
                dead = [p for i, p in enumerate(procs) if i not in done and p.exitcode is not None]
                if dead:
                    raise WorkerFailed(f"ingest worker died (exit code {dead[0].exitcode})") from None
                continue
            if msg[0] == "progress":
                progress.advance(msg[2])
            elif msg[0] == "done":
                done[msg[1]] = msg[2]
            else:
                raise WorkerFailed(f"ingest worker failed: {msg[2]}")
    finally:
        for p in procs:
            if p.is_alive() and p.exitcode is None and len(done) < n:
                p.terminate()
            p.join(timeout=30)
        progress.close()
    return combine([done[i] for i in range(n)], seconds=time.perf_counter() - t0)
