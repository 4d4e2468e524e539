# ruff: noqa: E501
"""The demo stage on a small lake with labelled attacks (Stratus detonations as the attacks)."""

from __future__ import annotations

import json

from jobs.demo import Demo
from jobs.demo.detect import detect_stage, load_scenarios
from tests.pipeline.detections.ctlake import write_events


def test_detect_stage_reports_scenarios(tmp_path, lake, settings, shared_data, capsys):
    folder = shared_data / "stratus-cloudtrail" / "detonation-logs"
    stop = json.loads((folder / "aws.defense-evasion.cloudtrail-stop.json").read_text())
    sg = json.loads((folder / "aws.exfiltration.ec2-security-group-open-port-22-ingress.json").read_text())
    write_events(lake, stop + sg)
    labels = tmp_path / "sample" / "labels"
    labels.mkdir(parents=True)
    (labels / "cloudtrail_attacks.json").write_text(json.dumps([
        {"scenario": "stop_logging", "event_ids": [e["eventID"] for e in stop]},
        {"scenario": "sg_open_world", "event_ids": [e["eventID"] for e in sg if e["eventName"] == "AuthorizeSecurityGroupIngress"]},
        {"scenario": "never_happened", "event_ids": ["nope"]},
    ]))
    assert set(load_scenarios(labels)) == {"stop_logging", "sg_open_world", "never_happened"}
    out = detect_stage(Demo(lake=lake, settings=settings, sample_dir=tmp_path / "sample"))
    printed = capsys.readouterr().out
    assert {k for k, rules in out.found.items() if rules} == {"stop_logging", "sg_open_world"}
    assert out.found["never_happened"] == []
    assert "scenario never_happened: MISSED" in printed
    assert "scenario stop_logging: FOUND by" in printed and "CloudTrail logging stopped" in printed
