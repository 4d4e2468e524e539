"""Acceptance: the 57 SigmaHQ CloudTrail rules parse, and on the Stratus Red Team detonations
both engines match exactly the rule → eventID pairs of the reference engine (pySigma 1.5.1,
expected_sigma_matches.json)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.detections.engine import match_events, match_lake
from pipeline.detections.rules import load_rules
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events


def _expected(shared_data: Path) -> dict[str, list[str]]:
    doc = json.loads((shared_data / "stratus-cloudtrail" / "expected_sigma_matches.json").read_text())
    return {name: sorted(v["eventIDs"]) for name, v in doc["matches"].items()}


def test_all_57_rules_parse(shared_data):
    rs = load_rules(shared_data / "sigma-cloudtrail" / "rules")
    assert rs.files == 57 and len(rs.rules) == 57 and rs.problems == []


def test_both_engines_equal_reference_matches(shared_data, stratus_events, lake):
    rs = load_rules(shared_data / "sigma-cloudtrail" / "rules")
    by_id = {r.id: Path(r.path).name for r in rs.rules}
    expected = _expected(shared_data)
    write_events(lake, stratus_events)
    for engine, matches in (("python", match_events(rs.rules, stratus_events)),
                            ("duckdb", match_lake(connect(lake, ["cloudtrail"]), rs.rules))):
        got: dict[str, list[str]] = {}
        for m in matches:
            got.setdefault(by_id[m.rule_id], []).append(m.event_id)
        assert {k: sorted(v) for k, v in got.items()} == expected, engine


def test_python_engine_on_lake_rows_equals_raw_events(shared_data, stratus_events, lake):
    """The follow path evaluates lake rows (JSON columns as text); same matches as raw dicts."""
    import pyarrow.parquet as pq

    rs = load_rules(shared_data / "sigma-cloudtrail" / "rules")
    files = write_events(lake, stratus_events)
    rows = [r for f in files for r in pq.read_table(lake.path(f)).to_pylist()]
    assert match_events(rs.rules, rows) == match_events(rs.rules, stratus_events)
