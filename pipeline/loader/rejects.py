"""Rejected records → ``errors/<source>/dt=YYYY-MM-DD/part-<digest>.jsonl.gz`` (Firehose's error
output prefix).

Each line is one JSON object with the fields of :data:`pipeline.schemas.REJECTED`: ``source``,
``origin``, ``line``, ``field``, ``reason``, ``raw`` (the bytes as received, base64-encoded) and
``rejected_at`` (ISO 8601 UTC). ``dt`` is the day the rejection was first written.

Idempotent: a file's name is a digest of the rejections it holds, and a digest already present
anywhere under ``errors/<source>/`` is not written again (checked under a per-source lock), so
re-loading the same input, or rerunning after a crash, never duplicates an error row.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.lake import layout
from pipeline.lake.files import HIDDEN_SUFFIXES
from pipeline.lake.locks import locked
from pipeline.sources.base import Rejection
from pipeline.timeutil import iso

if TYPE_CHECKING:
    from pipeline.lake import Lake
    from pipeline.lake.store import FileInfo


def digest(rejections: list[Rejection]) -> str:
    """A stable 24-hex-digit digest of what was rejected (not when)."""
    h = hashlib.sha1()
    for r in rejections:
        for part in (r.source, r.origin, str(r.line), r.field or "", r.reason):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        h.update(hashlib.sha1(r.raw).digest())
    return h.hexdigest()[:24]


def encode(rejections: list[Rejection], now: datetime) -> bytes:
    """JSON lines (gzip) in the REJECTED schema; ``raw`` as base64."""
    import orjson

    at = iso(now)
    lines = [orjson.dumps({
        "source": r.source, "origin": r.origin, "line": r.line, "field": r.field,
        "reason": r.reason, "raw": base64.b64encode(r.raw).decode(), "rejected_at": at,
    }) for r in rejections]
    return gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6)


def write(lake: Lake, source: str, rejections: list[Rejection], now: datetime) -> FileInfo | None:
    """Write ``rejections`` of one source as one file unless the same set is already stored.

    Returns the new file, or None when there was nothing new to write.
    """
    if not rejections:
        return None
    layout.validate_partition("source", source)
    tag = digest(rejections)
    root = layout.partition_path("errors", {"source": source, "dt": "2000-01-01"}).rsplit("/", 1)[0]
    with locked(lake, f"errors/{source}"):
        _remove_temp(lake, root)
        if any(f.endswith(f"-{tag}.jsonl.gz") for f in lake.table_files("errors", root)):
            return None
        folder = layout.partition_path("errors", {"source": source, "dt": now.strftime("%Y-%m-%d")})
        data = encode(rejections, now)
        return lake.write_bytes(f"{folder}/part-{tag}.jsonl.gz", data)


def _remove_temp(lake: Lake, root: str) -> None:
    """Delete temporary files a killed writer left under ``root`` (we hold the source's lock)."""
    if lake.is_s3:
        return
    for e in lake.entries(root):
        if e.path.endswith(HIDDEN_SUFFIXES):
            lake.delete(e.path)
