"""Helpers for the source reader tests: writing inputs in the real AWS layouts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.sources import Batch


def write_records(path: Path, events: list[Any], *, gz: bool = True) -> Path:
    """Write a CloudTrail S3 log file ``{"Records": [...]}`` (gzip by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"Records": events}).encode()
    path.write_bytes(gzip.compress(body) if gz else body)
    return path


def collect(batches: Any) -> tuple[list[dict[str, Any]], list[Any], dict[str, int]]:
    """All rows (as dicts), rejections and summed skipped counts of an iterator of batches."""
    rows: list[dict[str, Any]] = []
    rejections: list[Any] = []
    skipped: dict[str, int] = {}
    for b in batches:
        assert isinstance(b, Batch)
        rows.extend(b.table.to_pylist())
        rejections.extend(b.rejections)
        for k, v in b.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    return rows, rejections, skipped


@pytest.fixture(scope="session")
def stratus_dir(shared_data: Path) -> Path:
    return shared_data / "stratus-cloudtrail" / "detonation-logs"


@pytest.fixture(scope="session")
def stratus_events(stratus_dir: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for f in sorted(stratus_dir.glob("*.json")):
        events.extend(json.loads(f.read_text()))
    return events
