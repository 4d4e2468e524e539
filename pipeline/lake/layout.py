"""Lake layout: table locations, Hive partitions derived from event time, and file names.

Partition values are always computed from a timestamp or validated against a strict pattern
before they become part of a path, so a crafted field value (``../x``, ``a/b``) can never leave
its table directory.

>>> from datetime import datetime, timezone
>>> partition_path("cloudtrail", time_partitions("cloudtrail", datetime(2025, 2, 11, 8, tzinfo=timezone.utc)))
'raw/cloudtrail/dt=2025-02-11/hour=08'
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from pipeline.errors import LayoutError
from pipeline.timeutil import to_utc, utcnow


@dataclass(frozen=True)
class TableSpec:
    """Where a table lives and how it is partitioned.

    Attributes:
        name: the table's name (also its SQL view name).
        prefix: folder below the lake root.
        partitions: partition keys in path order.
        plain: keys rendered as a bare folder (``errors/cloudtrail``) instead of ``key=value``.
        fmt: file format of the table's files (``parquet`` or ``jsonl.gz``).
    """

    name: str
    prefix: str
    partitions: tuple[str, ...]
    plain: tuple[str, ...] = ()
    fmt: str = "parquet"


TABLES: dict[str, TableSpec] = {t.name: t for t in [
    TableSpec("cloudtrail", "raw/cloudtrail", ("dt", "hour")),
    TableSpec("metrics", "raw/metrics", ("dt", "hour")),
    TableSpec("logs", "raw/logs", ("dt", "hour")),
    TableSpec("records", "raw/records", ("stream", "dt")),
    TableSpec("errors", "errors", ("source", "dt"), plain=("source",), fmt="jsonl.gz"),
    TableSpec("metrics_1m", "rollups/metrics_1m", ("dt",)),
    TableSpec("metrics_5m", "rollups/metrics_5m", ("dt",)),
    TableSpec("metrics_1h", "rollups/metrics_1h", ("month",)),
    TableSpec("alarm_history", "alarms/history", ("dt",)),
    TableSpec("anomalies", "anomalies", ("dt",)),
    TableSpec("insights", "insights", ("dt",)),
    TableSpec("findings", "findings", ("dt",)),
]}

LEDGER_PREFIX = "_ledger"

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_VALIDATORS = {
    "dt": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "hour": re.compile(r"^(?:[01]\d|2[0-3])$"),
    "month": re.compile(r"^\d{4}-(?:0[1-9]|1[0-2])$"),
    "stream": _NAME_RE,
    "source": re.compile(r"^[a-z0-9_-]{1,64}$"),
}


def table(name: str) -> TableSpec:
    """The spec of a registered table; raises LayoutError for an unknown name."""
    try:
        return TABLES[name]
    except KeyError:
        raise LayoutError("table", name, f"unknown table (known: {', '.join(TABLES)})") from None


def validate_partition(key: str, value: str) -> str:
    """Return ``value`` if it is a legal value for partition ``key``; raise LayoutError if not.

    Refuses anything that could escape a directory: separators, ``..``, empty strings, and
    any value outside the key's pattern (dates must also be real calendar dates).
    """
    text = str(value)
    pattern = _VALIDATORS.get(key)
    if pattern is None:
        raise LayoutError(key, value, "unknown partition key")
    if not pattern.fullmatch(text) or text in (".", "..") or "/" in text or "\\" in text:
        raise LayoutError(key, value, f"does not match {pattern.pattern}")
    if key == "dt":
        try:
            date.fromisoformat(text)
        except ValueError:
            raise LayoutError(key, value, "not a calendar date") from None
    return text


def time_partitions(table_name: str, ts: datetime) -> dict[str, str]:
    """Partition values of ``table_name`` that derive from an event time (dt, hour, month)."""
    t = to_utc(ts)
    values: dict[str, str] = {}
    for key in table(table_name).partitions:
        if key == "dt":
            values[key] = t.strftime("%Y-%m-%d")
        elif key == "hour":
            values[key] = t.strftime("%H")
        elif key == "month":
            values[key] = t.strftime("%Y-%m")
    return values


def partition_path(table_name: str, values: Mapping[str, str]) -> str:
    """Relative folder of one partition, e.g. ``raw/records/stream=orders/dt=2025-02-11``.

    Raises:
        LayoutError: a key is missing, unknown for the table, or its value is invalid.
    """
    spec = table(table_name)
    extra = set(values) - set(spec.partitions)
    if extra:
        raise LayoutError(sorted(extra)[0], values[sorted(extra)[0]],
                          f"not a partition of {table_name}")
    parts = [spec.prefix]
    for key in spec.partitions:
        if key not in values:
            raise LayoutError(key, None, f"missing partition value for {table_name}")
        value = validate_partition(key, values[key])
        parts.append(value if key in spec.plain else f"{key}={value}")
    return "/".join(parts)


def parse_partition_path(table_name: str, rel_path: str) -> dict[str, str]:
    """Inverse of :func:`partition_path` for a folder or file path below the table."""
    spec = table(table_name)
    rest = rel_path[len(spec.prefix):].strip("/").split("/") if rel_path.startswith(spec.prefix) else []
    values: dict[str, str] = {}
    for key, part in zip(spec.partitions, rest):
        value = part if key in spec.plain else part.partition("=")[2]
        if key not in spec.plain and not part.startswith(f"{key}="):
            raise LayoutError(key, part, f"unexpected folder in {table_name}")
        values[key] = validate_partition(key, value)
    return values


def file_name(fmt: str = "parquet", *, now: datetime | None = None, tag: str | None = None) -> str:
    """A unique, sortable file name: ``part-20250211T081409Z-<12 hex>[-tag].parquet``.

    ``tag`` (letters, digits, ``_`` and ``-``) lets a writer name files deterministically,
    e.g. after a commit id, so that a retried write replaces rather than duplicates.
    """
    stamp = to_utc(now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    suffix = ""
    if tag is not None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", tag):
            raise LayoutError("tag", tag, "file tags are letters, digits, _ and - only")
        suffix = f"-{tag}"
    return f"part-{stamp}-{uuid.uuid4().hex[:12]}{suffix}.{fmt}"
