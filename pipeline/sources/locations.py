"""Input locations: local files, folders, globs and ``s3://bucket/prefix``, read as bytes.

A location expands to :class:`Unit` s (one per file or object), in a stable sorted order. Reading
a unit returns its *decoded* bytes: gzip is recognised by its magic bytes (never by extension),
multi-member gzip is joined, a UTF-8 byte order mark is removed, and a truncated gzip stream
returns what could be decompressed plus a note, so a reader can keep the complete records and
reject the rest. An object over ``limits.max_object_bytes`` (stored or decompressed) comes back
empty with the reason.

``since``/``until`` bound the CloudTrail-style date folders (``…/YYYY/MM/DD/…``): a file is read
when its folder's UTC day overlaps ``[since, until)``. Files outside a date folder are always
read. Events inside a file are not filtered by time (a file in day D can hold late events).

Decompression (ISA-L's inflate through ``isal``, 4–5× faster than zlib on CloudTrail files, with
zlib as the fallback; same bytes, same error handling) runs in a small thread pool (both release
the GIL), so several files decompress while the caller parses the previous one; at most
``prefetch`` decoded files are held at once.
"""

from __future__ import annotations

import glob
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.errors import InputNotFoundError
from pipeline.sources.limits import DEFAULT_LIMITS, Limits
from pipeline.timeutil import parse_time

_inflate: Any = zlib
try:
    from isal import isal_zlib

    _inflate = isal_zlib
except ImportError:  # pragma: no cover - isal is a declared dependency; zlib gives the same bytes
    pass
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflate.error)

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_DATE_DIR = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})(?:/|$)")
_HIDDEN = re.compile(r"(?:^|/)[._][^/]*")


@dataclass
class Unit:
    """One file or object to read.

    Attributes:
        origin: the path or ``s3://bucket/key`` that rejections and ``_wl_origin`` quote.
        size: size in bytes as stored (compressed), or -1 when unknown.
        fetch: returns the stored bytes.
    """

    origin: str
    size: int
    fetch: Callable[[], bytes]


@dataclass
class Decoded:
    """A unit's bytes after decompression.

    ``problem`` is set when the stored bytes were damaged (for example a truncated gzip
    stream); ``data`` then holds whatever decompressed cleanly.
    """

    unit: Unit
    data: bytes
    raw_bytes: int
    problem: str | None = None


def gunzip(raw: bytes, max_bytes: int | None = None) -> tuple[bytes, str | None]:
    """Decompress gzip (all members); return ``(data, problem)``. Non-gzip input is returned as is.

    A truncated or corrupt stream yields the bytes decompressed before the damage and a one-line
    problem text instead of raising. With ``max_bytes``, decompression stops as soon as the output
    would exceed it (a gzip bomb never takes more than ``max_bytes`` of memory) and the result is
    ``(b"", reason)`` naming the limit.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw, None
    out: list[bytes] = []
    total = 0
    rest = raw
    while rest:
        d = _inflate.decompressobj(wbits=31)
        room = 0 if max_bytes is None else max_bytes - total + 1  # 0 = unlimited
        try:
            piece = d.decompress(rest, room)
            if max_bytes is not None and (len(piece) >= room or d.unconsumed_tail):
                return b"", Limits(max_object_bytes=max_bytes).object_reason()
            out.append(piece)
            out.append(d.flush())
        except _INFLATE_ERRORS as exc:
            return _joined(out), f"corrupt gzip stream: {exc}"
        total += len(out[-1]) + len(out[-2])
        if max_bytes is not None and total > max_bytes:
            return b"", Limits(max_object_bytes=max_bytes).object_reason()
        if not d.eof:
            return _joined(out), "truncated gzip stream (file ends before the gzip trailer)"
        rest = d.unused_data.lstrip(b"\x00")
        if rest and not rest.startswith(GZIP_MAGIC):
            return _joined(out), "unexpected bytes after the gzip stream"
    return _joined(out), None


def _joined(pieces: list[bytes]) -> bytes:
    """``b"".join(pieces)`` without copying when only one piece is not empty (the usual case)."""
    full = [p for p in pieces if p]
    return full[0] if len(full) == 1 else b"".join(full)


def _day_bounds(since: datetime | None, until: datetime | None) -> tuple[date | None, date | None]:
    first = since.date() if since is not None else None
    last = None
    if until is not None:
        last = until.date()
        if until == datetime.combine(last, datetime.min.time(), tzinfo=until.tzinfo):
            last = last - timedelta(days=1)  # until at midnight excludes that day
    return first, last


def date_folder(path: str) -> date | None:
    """The ``YYYY/MM/DD`` folder date in a path or key (the last one), or None."""
    found = None
    for m in _DATE_DIR.finditer(path):
        try:
            found = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return found


def in_window(path: str, first: date | None, last: date | None) -> bool:
    """True if the path has no date folder or its day lies within ``[first, last]``."""
    if first is None and last is None:
        return True
    d = date_folder(path)
    if d is None:
        return True
    return (first is None or d >= first) and (last is None or d <= last)


def _local_units(location: str) -> list[Unit]:
    p = Path(location)
    if p.is_file():
        paths = [p]
    elif p.is_dir():
        paths = sorted(q for q in p.rglob("*") if q.is_file()
                       and not _HIDDEN.search(q.relative_to(p).as_posix()))
    elif glob.has_magic(location):
        paths = sorted(Path(q) for q in glob.glob(location, recursive=True) if Path(q).is_file())
        if not paths:
            raise InputNotFoundError(location, "glob matched no files")
    else:
        raise InputNotFoundError(location)
    return [Unit(str(q), q.stat().st_size, q.read_bytes) for q in paths]


def _s3_units(location: str, endpoint_url: str | None) -> list[Unit]:
    units = list_s3(location, endpoint_url)
    if not units:
        raise InputNotFoundError(location, "no objects under this prefix")
    return units


def list_s3(location: str, endpoint_url: str | None = None, *, start_after: str | None = None) -> list[Unit]:
    """The objects under ``s3://bucket/prefix`` (keys after ``start_after`` only, when given — S3's
    ``StartAfter``: a poller lists what is new without the whole prefix), sorted; empty when none.

    Raises:
        InputNotFoundError: no bucket in the URL, or no such bucket.
    """
    from pipeline.errors import require

    boto3 = require("boto3", "s3", "reading s3:// sources")  # heavy, only for S3 locations

    rest = location[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InputNotFoundError(location, "no bucket in S3 URL")
    client = boto3.client("s3", endpoint_url=endpoint_url)
    units: list[Unit] = []
    extra = {"StartAfter": start_after} if start_after else {}
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **extra)
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/"):
                    continue
                units.append(Unit(f"s3://{bucket}/{key}", int(obj.get("Size", -1)),
                                  _s3_fetch(client, bucket, key)))
    except client.exceptions.NoSuchBucket:
        raise InputNotFoundError(location, "no such bucket") from None
    return sorted(units, key=lambda u: u.origin)


def _s3_fetch(client: Any, bucket: str, key: str) -> Callable[[], bytes]:
    def fetch() -> bytes:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    return fetch


def expand(locations: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
           endpoint_url: str | None = None, since: datetime | str | None = None,
           until: datetime | str | None = None) -> list[Unit]:
    """Expand locations into units, filtered by date folder.

    Raises:
        InputNotFoundError: a location does not exist or matches nothing.
    """
    if isinstance(locations, str | os.PathLike):
        locations = [locations]
    first, last = _day_bounds(parse_time(since) if since is not None else None,
                              parse_time(until) if until is not None else None)
    units: list[Unit] = []
    for loc in locations:
        text = os.fspath(loc)
        found = _s3_units(text, endpoint_url) if text.startswith("s3://") else _local_units(text)
        units.extend(u for u in found if in_window(u.origin, first, last))
    return units


def _decode(unit: Unit, limits: Limits = DEFAULT_LIMITS) -> Decoded:
    if unit.size > limits.max_object_bytes:
        return Decoded(unit, b"", 0, limits.object_reason(unit.size))
    try:
        raw = unit.fetch()
    except OSError as exc:
        return Decoded(unit, b"", 0, f"cannot read: {exc}")
    if len(raw) > limits.max_object_bytes:
        return Decoded(unit, b"", len(raw), limits.object_reason(len(raw)))
    data, problem = gunzip(raw, limits.max_object_bytes)
    if data.startswith(UTF8_BOM):  # an encoding mark, not content: every reader sees the text after it
        data = data[len(UTF8_BOM):]
    return Decoded(unit, data, len(raw), problem)


def decoded(units: Iterable[Unit], *, threads: int = 2, prefetch: int | None = None,
            limits: Limits = DEFAULT_LIMITS) -> Iterator[Decoded]:
    """Fetch and decompress units in a thread pool; yield them in input order.

    At most ``prefetch`` (default ``limits.max_open_files``) decoded units are in memory ahead of
    the consumer; an object over ``limits.max_object_bytes`` (stored or decompressed) is not kept:
    it comes back empty with the reason in ``problem``.
    """
    units = list(units)
    prefetch = max(1, limits.max_open_files if prefetch is None else prefetch)
    if threads <= 1 or len(units) <= 1:
        for u in units:
            yield _decode(u, limits)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: list[Future[Decoded]] = []
        it = iter(units)
        for u in it:
            pending.append(pool.submit(_decode, u, limits))
            if len(pending) >= prefetch:
                break
        while pending:
            fut = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_decode, nxt, limits))
            yield fut.result()
