# ruff: noqa: E501
"""Findings grouped in bulk (:mod:`pipeline.detections.grouping`) equal the Python engine's.

The reference is the ``--follow`` path: :func:`match_events` on the raw event dicts and
:func:`findings_for` (a loop over matches, the documented semantics). Seeded random events crowd
a few principals and IPs (some missing) into minutes, with repeated timestamps, so that dedup
windows, thresholds, counting windows that fire, reset and fire again, and ties all occur; the
rules cover per-event rules (several dedup windows and keys, a threshold, an empty dedup key),
``count() > N`` / ``>= N`` / ``< N`` / ``<= N`` / ``= N`` / rate rules (bulk; two whose condition
no count meets) and a distinct count (Python fallback).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.detections.engine import match_events
from pipeline.detections.findings import findings_for, findings_table
from pipeline.detections.grouping import lake_findings, vectorised
from pipeline.detections.rules import load_rules
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events

NOW = datetime(2026, 12, 1, tzinfo=UTC)

SIGMA = """title: {title}
id: 22222222-0000-4000-8000-{n:012d}
logsource: {{product: aws, service: cloudtrail}}
level: medium
detection:
    sel: {sel}
{extra}
"""
RULES = {
    "list": ("{eventName: ListBuckets}", "    condition: sel\nwatchlake: {dedup_window: 2m}"),
    "denied": ("{errorCode: AccessDenied}", "    condition: sel\nwatchlake: {dedup_window: 90s, threshold: 3}"),
    "by-ip": ("{eventName: GetObject}", "    condition: sel\nwatchlake: {dedup_by: [sourceIPAddress, userIdentity.accessKeyId]}"),
    "no-key": ("{eventName: PutObject}", "    condition: sel\nwatchlake: {dedup_by: [], dedup_window: 1m}"),
    "short": ("{eventName: DeleteObject}", "    condition: sel\nwatchlake: {dedup_window: 1s}"),
    "count-gt": ("{errorCode: AccessDenied}", "    timeframe: 2m\n    condition: sel | count() by userIdentity.arn > 2"),
    "count-ge": ("{eventName: GetObject}", "    timeframe: 1m\n    condition: sel | count() by sourceIPAddress >= 3\n"
                 "watchlake: {dedup_window: 3m}"),
    "count-all": ("{eventSource: s3.amazonaws.com}", "    timeframe: 30s\n    condition: sel | count() > 4"),
    "distinct": ("{eventSource: s3.amazonaws.com}", "    timeframe: 2m\n    condition: sel | count(eventName) by sourceIPAddress > 2"),
    "fewer": ("{eventName: PutObject}", "    timeframe: 1m\n    condition: sel | count() by userIdentity.arn < 2"),
    "at-most": ("{eventName: GetObject}", "    timeframe: 2m\n    condition: sel | count() by sourceIPAddress <= 1\n"
                "watchlake: {dedup_window: 90s}"),
    "exactly": ("{errorCode: AccessDenied}", "    timeframe: 1m\n    condition: sel | count() by userIdentity.arn = 2"),
    "never-eq": ("{eventSource: s3.amazonaws.com}", "    timeframe: 1m\n    condition: sel | count() == 2.5"),
    "never-lt": ("{eventSource: s3.amazonaws.com}", "    timeframe: 1m\n    condition: sel | count() < 1"),
}
RATE = """kind: rate
id: wl-test-rate
title: denied burst
filter: {"detail": {"errorCode": ["AccessDenied"]}}
key: source_ip
window: 1m
limit: 3
dedup_window: 2m
"""


def _rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    for n, (name, (sel, extra)) in enumerate(RULES.items()):
        (d / f"{name}.yml").write_text(SIGMA.format(title=name, n=n, sel=sel, extra=extra))
    (d / "rate.yml").write_text(RATE)
    return d


def _events(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 8, 10, tzinfo=UTC)
    out = []
    for i in range(n):
        t = t0 + timedelta(seconds=rng.choice([rng.randrange(3 * 3600), rng.randrange(600)]))
        user = rng.choice(["alice", "bob", "eve"])
        ev = {"eventVersion": "1.09", "eventID": f"{rng.randrange(10 ** 6):06d}-{i}",
              "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "s3.amazonaws.com",
              "eventName": rng.choice(["ListBuckets", "GetObject", "PutObject", "DeleteObject"]),
              "awsRegion": "us-east-1", "eventType": "AwsApiCall",
              "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/{user}",
                               **({"accessKeyId": f"AKIA{user.upper()}"} if rng.random() < 0.7 else {})}}
        if rng.random() < 0.8:
            ev["sourceIPAddress"] = rng.choice(["198.51.100.1", "198.51.100.2", "-"])
        if rng.random() < 0.3:
            ev["errorCode"] = "AccessDenied"
        out.append(ev)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_findings_equal_the_python_engines(tmp_path, lake, seed):
    rules = load_rules(_rules(tmp_path)).rules
    assert len(rules) == 15 and {r.title for r in rules if not vectorised(r)} == {"distinct"}
    events = _events(seed, 1500)
    write_events(lake, events)
    expected = findings_table(findings_for(rules, match_events(rules, events)), "duckdb", NOW)
    found = lake_findings(connect(lake, ["cloudtrail"]), rules)
    got = found.table("duckdb", NOW)
    assert expected.num_rows > 100 and got.to_pylist() == expected.to_pylist()
    assert findings_table(found.findings(), "duckdb", NOW).to_pylist() == expected.to_pylist()
    # every kind of window happened: multi-event findings, repeated firings, thresholds dropping some
    per_rule = {}
    for row in got.to_pylist():
        per_rule.setdefault(row["title"], []).append(row["event_count"])
    assert {"list", "denied", "by-ip", "no-key", "short", "count-gt", "count-ge", "count-all", "denied burst",
            "fewer", "at-most", "exactly"} <= set(per_rule) and not {"never-eq", "never-lt"} & set(per_rule)
    assert max(per_rule["list"]) > 1 and min(per_rule["denied"]) >= 3
    assert len(per_rule["count-gt"]) > 1 and min(per_rule["count-ge"]) >= 3
    assert found.match_count == len(match_events(rules, events))


def test_a_time_range_and_no_rules(tmp_path, lake):
    rules = load_rules(_rules(tmp_path)).rules
    events = _events(4, 600)
    write_events(lake, events)
    start, end = datetime(2026, 11, 8, 10, 30, tzinfo=UTC), datetime(2026, 11, 8, 11, 30, tzinfo=UTC)
    inside = [e for e in events if start <= datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")) < end]
    expected = findings_table(findings_for(rules, match_events(rules, inside)), "duckdb", NOW)
    con = connect(lake, ["cloudtrail"])
    assert lake_findings(con, rules, start, end).table("duckdb", NOW).to_pylist() == expected.to_pylist()
    empty = lake_findings(con, [])
    assert len(empty) == 0 and empty.table("duckdb", NOW).num_rows == 0 and empty.findings() == []


def test_more_rules_than_one_bitmask_on_real_detonations(lake, shared_data, stratus_events):
    """The bundled rules and the vendored SigmaHQ rules (71: two 63-rule bitmask columns) over
    the real Stratus Red Team events give the Python engine's findings."""
    from pipeline.detections.rules import BUNDLED

    rules = load_rules(str(BUNDLED), shared_data / "sigma-cloudtrail").rules
    assert len(rules) > 63
    write_events(lake, stratus_events)
    expected = findings_table(findings_for(rules, match_events(rules, stratus_events)), "duckdb", NOW)
    got = lake_findings(connect(lake, ["cloudtrail"]), rules).table("duckdb", NOW)
    assert expected.num_rows >= 20 and got.to_pylist() == expected.to_pylist()
    fired = {[r.id for r in rules].index(row["rule_id"]) for row in got.to_pylist()}
    assert min(fired) < 63 <= max(fired)  # rules of both bitmask columns found something

