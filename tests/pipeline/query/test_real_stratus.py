"""Real CloudTrail (Stratus Red Team detonations vendored in tests/data): Logs Insights and the
security-change investigation against the counts published in technique_index.json."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipeline.query.investigations import run_investigation
from pipeline.query.logs_insights import run_insights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stratus(shared_data, tmp_path_factory):
    """The 35 detonation files read by the project's reader, one file per dt partition."""
    import pyarrow.compute as pc

    from pipeline.lake import Lake
    from pipeline.sources import read

    root = shared_data / "stratus-cloudtrail"
    lake = Lake(tmp_path_factory.mktemp("stratus") / "lake")
    table = pa.concat_tables(b.table for b in read("cloudtrail", str(root / "detonation-logs")) if b.table.num_rows)
    dt = pc.strftime(table["eventTime"], "%Y-%m-%d")
    hour = pc.strftime(table["eventTime"], "%H")
    for d, h in sorted(set(zip(dt.to_pylist(), hour.to_pylist()))):
        mask = pc.and_(pc.equal(dt, d), pc.equal(hour, h))
        lake.write_partition("cloudtrail", {"dt": d, "hour": h}, table.filter(mask))
    index = json.loads((root / "technique_index.json").read_text())
    return lake, index


START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)


def test_insights_counts_match_the_published_index(stratus):
    lake, index = stratus
    expected = Counter()
    for tech in index.values():
        expected.update(tech.get("detonation_events") or {})
    r = run_insights(lake, "stats count(*) as n by eventSource, eventName", start=START, end=END)
    got = {f"{src.split('.')[0]}:{name}": n for src, name, n in r.rows()}
    assert got == dict(expected) and sum(got.values()) == 310


def test_security_changes_cover_the_cloudtrail_techniques(stratus):
    lake, index = stratus
    r = run_investigation(lake, "security_changes", {"category": "cloudtrail", "start": "2024-01-01",
                                                    "end": "2025-01-01"})
    got = Counter(r.table.column("eventName").to_pylist())
    expected = Counter()
    for tech in index.values():
        for key, n in (tech.get("detonation_events") or {}).items():
            svc, name = key.split(":")
            if svc == "cloudtrail" and name in ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
                                                "PutInsightSelectors", "CreateTrail", "StartLogging"):
                expected[name] += n
    assert got == expected and {"StopLogging", "DeleteTrail", "PutEventSelectors"} <= set(got)
