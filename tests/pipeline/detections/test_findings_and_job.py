# ruff: noqa: E501
"""Rules problems, aggregation/rate findings, dedup windows, retro-vs-follow parity and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

from jobs.cli import main
from jobs.detect_job import Follower, run_retro
from pipeline.detections.check import never_fire_reasons
from pipeline.detections.rules import load_rules
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events


def ev(i: int, sec: int, **kw):
    base = {"eventVersion": "1.09", "eventID": f"e{i:03d}", "eventTime": f"2026-11-08T10:{sec // 60:02d}:{sec % 60:02d}Z",
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.9", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/eve", "accessKeyId": "AKIA1"}}
    base.update(kw)
    return base


RATE = """kind: rate
id: wl-denied-burst
title: AccessDenied burst
level: high
filter: {"detail": {"errorCode": ["AccessDenied"]}}
key: source_ip
window: 5m
limit: 3
"""
SIGMA = """title: bucket listing
id: 11111111-0000-4000-8000-000000000001
logsource: {product: aws, service: cloudtrail}
level: low
tags: [attack.discovery, attack.t1619]
detection:
    sel: {eventName: ListBuckets}
    condition: sel
watchlake: {dedup_window: 10m}
"""
AGG = """title: many denied by principal
id: 11111111-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection:
    sel: {errorCode: AccessDenied}
    timeframe: 2m
    condition: sel | count() by userIdentity.arn > 4
"""


def _rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "rate.yml").write_text(RATE)
    (d / "list.yml").write_text(SIGMA)
    (d / "agg.yml").write_text(AGG)
    return d


def _events():
    out = []
    # 4 AccessDenied from one IP within 80 s (> 3 in 5 min: rate fires), 1 from another IP
    out += [ev(i, 10 + 20 * i, errorCode="AccessDenied") for i in range(4)]
    out.append(ev(4, 30, errorCode="AccessDenied", sourceIPAddress="192.0.2.1"))
    # ListBuckets at 0:00, 0:05 (same finding: 10 min dedup window), 0:20 (new finding)
    out += [ev(10, 0, eventName="ListBuckets"), ev(11, 300, eventName="ListBuckets"),
            ev(12, 1200, eventName="ListBuckets")]
    return out


def test_findings_rate_dedup_and_aggregation(tmp_path, lake):
    rs = load_rules(_rules(tmp_path))
    assert rs.problems == []
    write_events(lake, _events())
    res = run_retro(lake, rs.rules)
    by_rule: dict[str, list] = {}
    for f in res.findings:
        by_rule.setdefault(f.rule.id, []).append(f)
    rate = by_rule["wl-denied-burst"]
    assert [f.event_ids for f in rate] == [["e000", "e001", "e002", "e003"]]
    assert rate[0].dedup_key == "sourceIPAddress=198.51.100.9"
    listing = by_rule["11111111-0000-4000-8000-000000000001"]
    assert [f.event_ids for f in listing] == [["e010", "e011"], ["e012"]]
    assert listing[0].rule.mitre == ["discovery", "T1619"]
    # 5 AccessDenied by eve within 2 minutes (10 s .. 70 s): count > 4 fires once with all five
    agg = by_rule["11111111-0000-4000-8000-000000000002"]
    assert [sorted(f.event_ids) for f in agg] == [["e000", "e001", "e002", "e003", "e004"]]
    con = connect(lake, ["findings"])
    assert con.execute("select count(*), sum(event_count) from findings").fetchone() == (4, 12)
    # re-running the same range replaces, never duplicates
    run_retro(lake, rs.rules)
    assert connect(lake, ["findings"]).execute("select count(*) from findings").fetchone() == (4,)


def test_follow_equals_retro(tmp_path, lake, shared_data, stratus_events):
    rules = load_rules(_rules(tmp_path), shared_data / "sigma-cloudtrail").rules
    events = _events() + stratus_events
    fol = Follower(lake, rules, from_start=True, resume=False)
    half = len(events) // 2
    write_events(lake, events[:half], origin="a")
    fol.poll()
    write_events(lake, events[half:], origin="b")  # a second file in a partition already seen
    fol.poll()
    follow_rows = connect(lake, ["findings"]).execute(
        "select rule_id, event_ids, dedup_key, time from findings order by all").fetchall()
    retro = run_retro(lake, rules, write=False)
    retro_rows = sorted((f.rule.id, f.event_ids, f.dedup_key, f.first.time) for f in retro.findings)
    assert follow_rows == retro_rows and len(retro_rows) > 20


def test_problems_are_reported_with_reasons(tmp_path, shared_data):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "yaml.yml").write_text("title: x\n  id: [")
    (d / "mod.yml").write_text(SIGMA.replace("sel: {eventName: ListBuckets}", "sel: {eventName|base64: x}"))
    (d / "name.yml").write_text(SIGMA.replace("condition: sel", "condition: sel and missing"))
    (d / "kw.yml").write_text(SIGMA.replace("sel: {eventName: ListBuckets}", "sel: [foo, bar]"))
    (d / "eb.json").write_text('{"id": "x", "pattern": {"detail": {"eventName": [{"bogus": 1}]}}}')
    problems = {Path(p.path).name: p.reason for p in load_rules(d).problems}
    assert "not valid YAML at line 2" in problems["yaml.yml"]
    assert "modifier `base64` is not supported" in problems["mod.yml"]
    assert "`missing`, which is not a selection" in problems["name.yml"]
    assert "full-text search is not supported" in problems["kw.yml"]
    assert "unknown matcher `bogus`" in problems["eb.json"]
    rs = load_rules(shared_data / "sigma-cloudtrail")
    reasons = {Path(r.path).name: never_fire_reasons(r) for r in rs.rules}
    assert any("no top-level field `status`" in x for x in reasons["aws_delete_saml_provider.yml"])
    assert any("route53domains.amazonaws.com" in x for x in reasons["aws_route_53_domain_transferred_lock_disabled.yml"])
    assert any("contradiction" in x for x in reasons["aws_ses_messaging_enabled.yml"])
    assert reasons["aws_cloudtrail_disable_logging.yml"] == []


def test_cli_detect_and_rules_check(tmp_path, lake, capsys):
    rules = _rules(tmp_path)
    write_events(lake, _events())
    assert main(["--lake", lake.root, "detect", "--rules", str(rules), "--from", "2026-11-08",
                 "--to", "2026-11-09"]) == 0
    out = capsys.readouterr()
    assert "AccessDenied burst" in out.out and "findings" in out.err
    assert main(["--lake", lake.root, "rules", "check", str(rules), "--fired"]) == 0
    out = capsys.readouterr()
    assert "parsed: 3 rules" in out.out
    # --fired counts each rule's matches in one scan: the Python engine's counts
    import json
    from collections import Counter

    from pipeline.detections.engine import match_events

    assert main(["--lake", lake.root, "rules", "check", str(rules), "--fired", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    loaded = load_rules(rules).rules
    expected = Counter(m.rule_id for m in match_events(loaded, _events()))
    assert {r["id"]: r["matches"] for r in report["parsed"]} == {r.id: expected[r.id] for r in loaded}
    assert sum(expected.values()) > 0


def test_cli_follow_processes_committed_files(tmp_path, lake, capsys):
    rules = _rules(tmp_path)
    write_events(lake, _events())
    assert main(["--lake", lake.root, "-q", "detect", "--rules", str(rules), "--follow", "--from-start",
                 "--iterations", "1", "--interval", "0"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"events\s+8\n", err)
    assert connect(lake, ["findings"]).execute("select count(*) from findings").fetchall() == [(4,)]
    # a second follower resumes from the checkpoint: nothing new, nothing duplicated
    assert main(["--lake", lake.root, "-q", "detect", "--rules", str(rules), "--follow",
                 "--iterations", "1", "--interval", "0"]) == 0
    assert connect(lake, ["findings"]).execute("select count(*) from findings").fetchall() == [(4,)]


def test_findings_notify_through_sns_like_topic(tmp_path, lake):
    import json

    from pipeline.notify.topics import TopicStore

    store = TopicStore(lake)
    store.subscribe("security", "file", str(tmp_path / "inbox.jsonl"), raw=True, allow_absolute_paths=True)
    store.save()
    write_events(lake, _events())
    res = run_retro(lake, load_rules(_rules(tmp_path)).rules, notify_topic="security")
    lines = (tmp_path / "inbox.jsonl").read_text().splitlines()
    assert len(lines) == len(res.findings) == 4
    messages = [json.loads(line) for line in lines]
    assert {m["rule_id"] for m in messages} == {f.rule.id for f in res.findings}
    burst = next(m for m in messages if m["rule_id"] == "wl-denied-burst")
    assert burst["event_ids"] == ["e000", "e001", "e002", "e003"] and burst["level"] == "high"
