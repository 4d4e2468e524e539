"""The one scan every rule shares (:mod:`pipeline.detections.scan`): what it reads, and the
per-rule match counts of ``rules check --fired``, against the Python engine."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.detections.engine import match_events
from pipeline.detections.findings import findings_for, findings_table
from pipeline.detections.grouping import lake_findings
from pipeline.detections.rules import load_rules
from pipeline.detections.scan import match_counts, match_rows_sql
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events
from tests.pipeline.detections.test_grouping import NOW, _events, _rules

FIELDREF = """title: login profile changed for someone else
id: 22222222-0000-4000-8000-999999999999
logsource: {product: aws, service: cloudtrail}
detection:
    selection: {eventSource: iam.amazonaws.com, eventName: UpdateLoginProfile}
    filter_self:
        userIdentity.arn|fieldref: requestParameters.userName
    condition: selection and not 1 of filter_*
watchlake: {dedup_window: 1m}
"""


def _profile_events() -> list[dict]:
    """UpdateLoginProfile calls whose caller is / is not the user changed: equal but for case,
    a list of names holding the caller, another user, no userName, no caller ARN."""
    cases = [("Alice", {"userName": "alice"}), ("Alice", {"userName": ["x", "ALICE"]}), ("Alice", {"userName": "bob"}),
             ("Alice", {"other": 1}), (None, {"userName": "alice"}), ("bob", {"userName": "bob"}),
             ("bob", {"userName": "alice"})]
    out = []
    for i, (arn, params) in enumerate(cases * 3):
        t = datetime(2026, 11, 8, 10, tzinfo=UTC) + timedelta(seconds=29 * i)
        ident = {"type": "IAMUser", **({"arn": arn} if arn else {})}
        out.append({"eventVersion": "1.09", "eventID": f"p-{i:03d}", "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile", "awsRegion": "us-east-1",
                    "eventType": "AwsApiCall", "userIdentity": ident, "requestParameters": params})
    return out


def test_a_field_compared_with_another_reads_one_struct_field(tmp_path, lake):
    """``userIdentity.arn|fieldref: requestParameters.userName`` (SigmaHQ's login-profile rule)
    gives the Python engine's findings, and the scan reads ``userIdentity.arn`` alone — not the
    whole ``userIdentity`` struct for every row (what a struct field inside the lambda over the
    other field's candidates made DuckDB do: a third of the 57 rules' time at 10 M events)."""
    (tmp_path / "r.yml").write_text(FIELDREF)
    rules = load_rules(tmp_path / "r.yml").rules
    events = _profile_events()
    write_events(lake, events)
    matches = match_events(rules, events)
    # by hand: the 2nd (another user), 3rd (no userName), 4th (no caller ARN) and 6th case of each 7
    assert sorted(m.event_id for m in matches) == [f"p-{i:03d}" for i in range(21) if i % 7 in (2, 3, 4, 6)]
    expected = findings_table(findings_for(rules, matches), "duckdb", NOW)
    con = connect(lake, ["cloudtrail"])
    assert lake_findings(con, rules).table("duckdb", NOW).to_pylist() == expected.to_pylist()
    plan = json.loads(con.sql("EXPLAIN (FORMAT json) " + match_rows_sql(rules)).fetchall()[0][1])

    def scans(node: dict) -> list[list[str]]:
        here = [node["extra_info"]["Projections"]] if node.get("name") == "READ_PARQUET" else []
        return here + [p for c in node.get("children", []) for p in scans(c)]
    projected = [p for n in plan for s in scans(n) for p in s]
    assert "userIdentity.arn" in projected and "userIdentity" not in projected


def test_match_counts_per_rule_equal_the_python_engines(tmp_path, lake):
    """``rules check --fired`` counts: one scan's bits counted per rule id in SQL equal the
    number of matches the Python engine finds for every rule (0 for the ones that match none)."""
    rules = load_rules(_rules(tmp_path)).rules + load_rules(_write(tmp_path, FIELDREF)).rules
    events = _events(5, 800)
    write_events(lake, events)
    expected = Counter(m.rule_id for m in match_events(rules, events))
    got = match_counts(connect(lake, ["cloudtrail"]), rules)
    assert got == {r.id: expected[r.id] for r in rules}
    assert sum(1 for n in got.values() if n) >= 8 and got[rules[-1].id] == 0
    assert match_counts(connect(lake, ["cloudtrail"]), []) == {}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extra.yml"
    path.write_text(text)
    return path
