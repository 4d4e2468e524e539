from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.detections.engine import match_events, match_lake
from pipeline.detections.model import Rule
from pipeline.lake import Lake
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events


@pytest.fixture(scope="session")
def stratus_events(shared_data: Path) -> list[dict[str, Any]]:
    files = sorted((shared_data / "stratus-cloudtrail" / "detonation-logs").glob("*.json"))
    return [e for f in files for e in json.loads(f.read_text())]


def both_engines(lake: Lake, rules: list[Rule], events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Run rules with both engines; assert they agree; return rule id → matched eventIDs."""
    write_events(lake, events)
    sql = match_lake(connect(lake, ["cloudtrail"]), rules)
    py = match_events(rules, events)
    assert [(m.rule_id, m.event_id) for m in sql] == [(m.rule_id, m.event_id) for m in py]
    out: dict[str, set[str]] = {r.id: set() for r in rules}
    for m in py:
        out[m.rule_id].add(m.event_id)
    return out
