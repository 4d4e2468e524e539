"""Read input files in several processes and hand their batches to one loader.

Decompression and JSON parsing dominate bulk ingest and are per-file work, so ``workers``
processes each read every ``workers``-th file (:func:`pipeline.sources.read`) and send their
:class:`~pipeline.sources.base.Batch` es (Arrow tables travel as IPC buffers) through a bounded
queue to the parent, which alone writes to the lake. Memory stays bounded: at most
``2 × workers`` batches wait in the queue. Which copy of a duplicated key is kept can depend on
arrival order; the set of keys loaded does not.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Iterator, Sequence
from typing import Any

from pipeline.errors import PipelineError
from pipeline.sources.base import Batch


class ReaderFailed(PipelineError):
    """A reader process failed; carries its one-line error."""


def _worker(kind: str, paths: list[str], endpoint_url: str | None, options: dict[str, Any],
            q: Any) -> None:
    from pipeline.sources import read

    try:
        for b in read(kind, paths, endpoint_url=endpoint_url, threads=1, **options):
            q.put(b)
        q.put(None)
    except BaseException as exc:  # reported to the parent, which raises it
        q.put(("error", f"{type(exc).__name__}: {exc}"))


def batches(kind: str, locations: Sequence[Any], *, workers: int = 2, endpoint_url: str | None = None,
            since: Any = None, until: Any = None, **options: Any) -> Iterator[Batch]:
    """Batches of every file under ``locations``, read by ``workers`` processes."""
    from pipeline.sources import read
    from pipeline.sources.locations import expand

    units = expand([str(x) for x in locations], endpoint_url=endpoint_url, since=since, until=until)
    origins = [u.origin for u in units]
    n = min(workers, len(origins))
    if n <= 1:
        yield from read(kind, origins if origins else [str(x) for x in locations],
                        endpoint_url=endpoint_url, **options)
        return
    ctx = mp.get_context("fork")
    q = ctx.Queue(maxsize=2 * n)
    procs = [ctx.Process(target=_worker, args=(kind, origins[i::n], endpoint_url, options, q), daemon=True)
             for i in range(n)]
    for p in procs:
        p.start()
    finished = 0
    try:
        while finished < n:
            try:
                item = q.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise ReaderFailed(f"reader process died (exit code {dead[0].exitcode})") from None
                continue
            if item is None:
                finished += 1
            elif isinstance(item, tuple):
                raise ReaderFailed(f"reader process failed: {item[1]}")
            else:
                yield item
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)
