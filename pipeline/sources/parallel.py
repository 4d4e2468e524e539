"""Parse files in worker processes (opt-in: ``read(..., workers=N)``).

Parsing JSON into Arrow is Python work that holds the GIL, so threads only overlap the gzip
decompression. With ``workers > 1`` whole files are read, decompressed, parsed and converted in
a pool of ``spawn``-ed processes and their batches (Arrow tables pickle as buffers) come back
in input order; at most ``2 × workers`` files are in flight, so memory stays bounded.

Workers start fresh interpreters (``spawn``): safe next to threads (DuckDB, S3 clients, Flink)
in the parent, at the price of about a second of start-up — worth it for many files, not for a
handful.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pipeline.sources.base import Batch
from pipeline.sources.locations import Unit, _decode, _s3_fetch


def _unit(origin: str, size: int, endpoint_url: str | None) -> Unit:
    if origin.startswith("s3://"):
        import boto3

        bucket, _, key = origin[len("s3://"):].partition("/")
        return Unit(origin, size, _s3_fetch(boto3.client("s3", endpoint_url=endpoint_url), bucket, key))
    return Unit(origin, size, Path(origin).read_bytes)


def _work(module: str, origin: str, size: int, endpoint_url: str | None, options: dict[str, Any]) -> list[Batch]:
    mod = importlib.import_module(module)
    return list(mod.read([_decode(_unit(origin, size, endpoint_url))], **options))


def read_parallel(module: str, units: list[Unit], workers: int, endpoint_url: str | None,
                  options: dict[str, Any]) -> Iterator[Batch]:
    """Batches of every unit, parsed in ``workers`` processes, yielded in input order."""
    ctx = multiprocessing.get_context("spawn")
    workers = max(1, min(workers, len(units), os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: list[Future[list[Batch]]] = []
        it = iter(units)
        for u in it:
            pending.append(pool.submit(_work, module, u.origin, u.size, endpoint_url, options))
            if len(pending) >= 2 * workers:
                break
        while pending:
            fut = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_work, module, nxt.origin, nxt.size, endpoint_url, options))
            yield from fut.result()
