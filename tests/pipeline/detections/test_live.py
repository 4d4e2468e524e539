"""A follower's findings built incrementally (:class:`OpenWindows`): the findings of the whole
history, memory bounded by the open windows however busy a finding is, and a finding that lists
its first ``MAX_EVENT_IDS`` eventIDs and counts them all — the same in the Python and bulk engines.

The reference is :func:`findings_for` over the whole history (the documented semantics), on the
seeded crowded sets of test_grouping and on a busy principal under a rate rule (the soak's shape:
one principal over the rule's limit for the whole of its hour-long dedup window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.detections.engine import match_events
from pipeline.detections.findings import MAX_EVENT_IDS, findings_for, findings_table
from pipeline.detections.grouping import lake_findings
from pipeline.detections.live import LATENESS, OpenWindows
from pipeline.detections.rules import load_rules
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import BUSY, write_events
from tests.pipeline.detections.test_grouping import NOW, _events, _rules


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 37])
def test_batches_give_the_findings_of_the_whole_history_and_only_changes(tmp_path, seed, batch):
    rules = load_rules(_rules(tmp_path)).rules
    events = sorted(_events(seed, 1500), key=lambda e: (e["eventTime"], e["eventID"]))
    expected = findings_table(findings_for(rules, match_events(rules, events)), "duckdb", NOW).to_pylist()

    live = OpenWindows(rules)
    latest: dict[str, tuple[int, list[str]]] = {}
    rows: dict[str, dict] = {}
    for i in range(0, len(events), batch):
        for row in findings_table(live.add(match_events(rules, events[i:i + batch])), "duckdb", NOW).to_pylist():
            before = latest.get(row["finding_id"])
            # only what opened or grew comes back: a caller writes and notifies each change once
            assert before is None or before[0] < row["event_count"], row["finding_id"]
            latest[row["finding_id"]] = (row["event_count"], row["event_ids"])
            rows[row["finding_id"]] = row
    got = sorted(rows.values(), key=lambda r: (r["time"], r["rule_id"], r["event_ids"][0]))
    assert len(expected) > 100 and got == expected


def _busy_events(n: int, per_second: int, start: datetime) -> list[dict]:
    """``n`` API calls by one principal, ``per_second`` a second, in time order."""
    return [{"eventVersion": "1.09", "eventID": f"busy-{i:07d}",
             "eventTime": (start + timedelta(seconds=i // per_second)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
             "eventType": "AwsApiCall", "sourceIPAddress": "198.51.100.7",
             "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/soak"}} for i in range(n)]


def _busy_rules(tmp_path: Path) -> list:
    d = tmp_path / "busy"
    d.mkdir()
    (d / "busy.yml").write_text(BUSY)
    return load_rules(d).rules


def test_a_busy_open_finding_is_held_in_bounded_memory(tmp_path):
    """50 calls/s for 30 minutes: the rate rule's finding opens at call 601 and every later call of
    its hour-long dedup window joins it. What the follower holds after 15 minutes equals what it
    holds after 30 (one open finding listing MAX_EVENT_IDS ids), while the finding counts all."""
    rules = _busy_rules(tmp_path)
    start = datetime(2026, 11, 8, 10, tzinfo=UTC)
    events = _busy_events(50 * 1800, 50, start)
    live = OpenWindows(rules)
    sizes: dict[int, dict[str, int]] = {}
    last = None
    for i in range(0, len(events), 500):  # a poll every 10 s of events
        changed = live.add(match_events(rules, events[i:i + 500]))
        assert len(changed) == (i + 500 > 600)
        last = changed[0] if changed else last
        sizes[i + 500] = live.size()
    assert sizes[len(events) // 2] == sizes[len(events)] == {
        "groups": 1, "open_findings": 1, "window_matches": 0, "event_ids": MAX_EVENT_IDS}
    assert last is not None and last.event_count == len(events)
    assert last.event_ids == [f"busy-{i:07d}" for i in range(MAX_EVENT_IDS)]


def test_state_of_a_quiet_key_is_dropped_after_its_window(tmp_path):
    """Keys seen once (a new source IP per event under a per-event rule) do not accumulate: a key's
    open finding is dropped once the newest match is LATENESS past its window."""
    rules = load_rules(_rules(tmp_path)).rules
    list_rule = [r for r in rules if r.title == "list"]  # ListBuckets, dedup by principal, 2 min
    t0 = datetime(2026, 11, 8, 10, tzinfo=UTC)
    live = OpenWindows(list_rule)
    window = timedelta(seconds=list_rule[0].dedup_window)
    for minute in range(0, 120):
        evs = [{"eventVersion": "1.09", "eventID": f"q-{minute}", "eventSource": "s3.amazonaws.com",
                "eventTime": (t0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventName": "ListBuckets", "awsRegion": "us-east-1", "eventType": "AwsApiCall",
                "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{minute}"}}]
        assert len(live.add(match_events(list_rule, evs))) == 1
    # the groups still held are those whose window ended less than LATENESS ago
    assert live.size()["groups"] == (window + LATENESS) // timedelta(minutes=1) + 1


def test_the_bulk_engine_lists_the_same_first_ids_and_counts_all(tmp_path, lake):
    """Retroactive detection (DuckDB, bulk grouping) over the busy principal's 12,000 calls: one
    finding listing the first MAX_EVENT_IDS ids with event_count 12,000 — equal to the Python
    engine's and to the live follower's."""
    rules = _busy_rules(tmp_path)
    events = _busy_events(12_000, 40, datetime(2026, 11, 8, 10, tzinfo=UTC))
    write_events(lake, events)
    bulk = lake_findings(connect(lake, ["cloudtrail"]), rules).table("duckdb", NOW).to_pylist()
    python = findings_table(findings_for(rules, match_events(rules, events)), "duckdb", NOW).to_pylist()
    live = findings_table(OpenWindows(rules).add(match_events(rules, events)), "duckdb", NOW).to_pylist()
    assert len(bulk) == 1 and bulk == python == live
    assert bulk[0]["event_count"] == 12_000
    assert bulk[0]["event_ids"] == [f"busy-{i:07d}" for i in range(MAX_EVENT_IDS)]
