"""Advisory file locks that serialise writers of one partition (or one error source).

Locks are ``flock`` locks on small files: the kernel releases them when the holder exits, even
on SIGKILL, so a crashed loader never leaves a stale lock. For a local lake the lock files live
in ``<lake>/_ledger/_locks/``; for an ``s3://`` lake they live in the local temp folder, keyed by
the lake root, which serialises loaders on one machine (several machines writing one S3 lake
need an external lock and are not supported).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.lake import Lake


def lock_dir(lake: Lake) -> str:
    """The folder that holds this lake's lock files (created on demand)."""
    if lake.is_s3:
        digest = hashlib.sha1(lake.root.encode()).hexdigest()[:16]
        folder = os.path.join(tempfile.gettempdir(), "watchlake-locks", digest)
    else:
        folder = os.path.join(lake.base, "_ledger", "_locks")
    os.makedirs(folder, exist_ok=True)
    return folder


@contextmanager
def locked(lake: Lake, name: str) -> Iterator[None]:
    """Hold the exclusive lock ``name`` (any text; hashed to a file name) for the block."""
    digest = hashlib.sha1(name.encode()).hexdigest()[:20]
    with flock(os.path.join(lock_dir(lake), f"{digest}.lock")):
        yield


@contextmanager
def flock(path: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file ``path`` (created if missing) for the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
