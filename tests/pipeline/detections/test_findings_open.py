"""A follower keeps only the matches of open windows (:func:`findings_and_open`) and still ends
with exactly the findings of the whole history (:func:`findings_for`, the documented semantics).

Events of the seeded crowded sets of test_grouping (dedup windows, thresholds, count rules that
fire, reset and fire again, a distinct count, a rate rule) arrive in time order in small batches;
after each batch only the kept matches plus the new ones are grouped, and each finding's last
reported version is kept — as :class:`jobs.detect_job.Follower` does."""

from __future__ import annotations

import pytest

from pipeline.detections.engine import match_events
from pipeline.detections.findings import findings_and_open, findings_for, findings_table
from pipeline.detections.rules import load_rules
from tests.pipeline.detections.test_grouping import NOW, _events, _rules


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 37])
def test_open_windows_only_give_the_findings_of_the_whole_history(tmp_path, seed, batch):
    rules = load_rules(_rules(tmp_path)).rules
    events = sorted(_events(seed, 1500), key=lambda e: (e["eventTime"], e["eventID"]))
    everything = match_events(rules, events)
    expected = findings_table(findings_for(rules, everything), "duckdb", NOW).to_pylist()

    kept: list = []
    latest: dict[str, object] = {}
    most_kept = 0
    for i in range(0, len(events), batch):
        found, kept = findings_and_open(rules, kept + match_events(rules, events[i:i + batch]))
        for f in found:
            latest[f.finding_id] = f
        most_kept = max(most_kept, len(kept))
    got = sorted(latest.values(), key=lambda f: (f.first.time, f.rule.id, f.first.event_id))  # type: ignore[attr-defined]
    assert len(expected) > 100
    assert findings_table(got, "duckdb", NOW).to_pylist() == expected
    # bounded: the open windows hold a small part of the history's matches
    assert most_kept < len(everything) / 5
