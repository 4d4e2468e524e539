"""Test helper: CloudTrail event dicts → the lake's cloudtrail table, through the sources team's
``events_to_table`` (the loader's own conversion), one file per hour partition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.lake import Lake
from pipeline.lake.layout import time_partitions
from pipeline.sources.cloudtrail import events_to_table


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def write_events(lake: Lake, events: list[dict[str, Any]], origin: str = "test") -> list[str]:
    """Write events into hourly partitions of the lake's cloudtrail table; returns file paths."""
    by_part: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}
    for e in events:
        parts = time_partitions("cloudtrail", _time(e["eventTime"]))
        by_part.setdefault(tuple(sorted(parts.items())), []).append(e)
    out = []
    for key, evs in sorted(by_part.items()):
        table, rejections = events_to_table(evs, origin)
        assert not rejections, [r.message() for r in rejections]
        out.append(lake.write_partition("cloudtrail", dict(key), table).path)
    return out


BUSY = """kind: rate
id: wl-busy
title: API call-rate spike
filter: {"detail-type": ["AWS API Call via CloudTrail"]}
key: principal
window: 5m
limit: 600
"""
"""A rate rule one busy principal keeps breaching (the soak's shape: its finding stays open)."""
