"""Test helper: CloudTrail event dicts → lake tables in the CLOUDTRAIL schema.

Used until/unless the sources team's ``events_to_table`` is importable; JSON columns are written
as compact JSON text, unknown top-level fields into ``_wl_extra``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from pipeline.lake import Lake
from pipeline.lake.layout import time_partitions
from pipeline.schemas import CLOUDTRAIL, PREFIX

JSON_FIELDS = {"requestParameters", "responseElements", "additionalEventData", "serviceEventDetails",
               "resources", "addendum", "edgeDeviceDetails", "insightDetails", "eventContext"}


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _struct(value: Any, typ: pa.StructType) -> Any:
    if not isinstance(value, dict):
        return None
    out = {}
    for f in typ:
        v = value.get(f.name)
        if pa.types.is_struct(f.type):
            out[f.name] = _struct(v, f.type)
        elif v is None:
            out[f.name] = None
        else:
            out[f.name] = v if isinstance(v, str) else _dumps(v)
    return out


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def to_row(event: dict[str, Any], origin: str = "test") -> dict[str, Any]:
    row: dict[str, Any] = {}
    names = set()
    for f in CLOUDTRAIL:
        names.add(f.name)
        v = event.get(f.name)
        if f.name.startswith(PREFIX):
            continue
        if pa.types.is_struct(f.type):
            row[f.name] = _struct(v, f.type)
        elif f.name == "eventTime":
            row[f.name] = _time(v)
        elif f.name in JSON_FIELDS:
            row[f.name] = None if v is None else _dumps(v)
        elif pa.types.is_boolean(f.type):
            row[f.name] = v if isinstance(v, bool) else None
        else:
            row[f.name] = None if v is None else (v if isinstance(v, str) else _dumps(v))
    extra = {k: v for k, v in event.items() if k not in names}
    row[f"{PREFIX}extra"] = _dumps(extra) if extra else None
    row[f"{PREFIX}origin"] = origin
    row[f"{PREFIX}ingest_time"] = datetime(2026, 1, 1, tzinfo=UTC)
    return row


def events_table(events: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([to_row(e) for e in events], schema=CLOUDTRAIL)


def write_events(lake: Lake, events: list[dict[str, Any]]) -> list[str]:
    """Write events into hourly partitions of the lake's cloudtrail table; returns file paths."""
    by_part: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}
    for e in events:
        parts = time_partitions("cloudtrail", _time(e["eventTime"]))
        by_part.setdefault(tuple(sorted(parts.items())), []).append(e)
    out = []
    for key, evs in sorted(by_part.items()):
        out.append(lake.write_partition("cloudtrail", dict(key), events_table(evs)).path)
    return out
