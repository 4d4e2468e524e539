"""Read input files in several processes and hand their batches to one loader.

Decompression and JSON parsing dominate bulk ingest and are per-file work, so ``workers``
processes each read every ``workers``-th file (:func:`pipeline.sources.read`) and send their
:class:`~pipeline.sources.base.Batch` es through a bounded queue to the parent, which alone
writes to the lake. A batch's table travels as an Arrow IPC file in a private temporary folder
(on ``/dev/shm`` when there is one) that the parent memory-maps and unlinks at once, so the rows
are neither pickled nor copied through a pipe; the folder is removed when reading ends. Memory
stays bounded: at most ``2 × workers`` batches wait in the queue. Which copy of a duplicated key is kept can depend on
arrival order; the set of keys loaded does not.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import queue
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from pipeline.errors import PipelineError
from pipeline.sources.base import Batch


class ReaderFailed(PipelineError):
    """A reader process failed; carries its one-line error."""


def _shm_dir() -> str | None:
    """``/dev/shm`` when it is a writable folder (memory-backed on Linux), else the default."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _send(b: Batch, folder: str, seq: int) -> tuple[str, str, Batch]:
    """Write ``b.table`` as an Arrow IPC file; the batch goes with a column-less placeholder table
    (pickling even an empty table of the nested CloudTrail schema cost ~1 ms a batch)."""
    import pyarrow as pa

    path = os.path.join(folder, f"{os.getpid()}-{seq}.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, b.table.schema) as w:
        w.write_table(b.table)
    return ("table", path, dataclasses.replace(b, table=pa.table({})))


def _receive(path: str, b: Batch) -> Batch:
    """Memory-map the IPC file written by :func:`_send` (no copy) and unlink it."""
    import pyarrow as pa

    try:
        with pa.memory_map(path) as src:
            table = pa.ipc.open_file(src).read_all()
    finally:
        os.unlink(path)
    return dataclasses.replace(b, table=table)


def _worker(kind: str, paths: list[str], endpoint_url: str | None, options: dict[str, Any],
            q: Any, folder: str) -> None:
    from pipeline.sources import read

    try:
        for seq, b in enumerate(read(kind, paths, endpoint_url=endpoint_url, threads=1, **options)):
            q.put(_send(b, folder, seq) if b.table.num_rows else b)
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
    folder = tempfile.mkdtemp(prefix="watchlake-read-", dir=_shm_dir())
    procs = [ctx.Process(target=_worker, args=(kind, origins[i::n], endpoint_url, options, q, folder),
                         daemon=True)
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
            elif isinstance(item, tuple) and item[0] == "table":
                yield _receive(item[1], item[2])
            elif isinstance(item, tuple):
                raise ReaderFailed(f"reader process failed: {item[1]}")
            else:
                yield item
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)
