"""The bundled rules: all parse, and the watchlake rules find the matching real Stratus Red Team
detonations (technique → rule decided by hand from technique_index.json's event lists)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.detections.engine import match_events
from pipeline.detections.findings import findings_for
from pipeline.detections.rules import BUNDLED, load_rules


def test_bundled_rules_all_parse():
    rs = load_rules(BUNDLED)
    assert rs.problems == [] and len(rs.rules) + len(rs.disabled) == 57 + 7 + 7
    assert sorted(Path(p.path).name for p in rs.disabled) == ["aws_iam_backdoor_users_keys.yml",
                                                              "aws_sts_assumerole_misuse.yml"]


def test_watchlake_rules_find_stratus_techniques(shared_data):
    rules = load_rules(BUNDLED / "watchlake").rules
    folder = shared_data / "stratus-cloudtrail" / "detonation-logs"
    expected = [
        ("aws.defense-evasion.cloudtrail-stop", "7c1e5d0a-3f0e-4c53-9b7e-0a1d2b3c4d03"),
        ("aws.defense-evasion.cloudtrail-delete", "7c1e5d0a-3f0e-4c53-9b7e-0a1d2b3c4d03"),
        ("aws.persistence.iam-backdoor-user", "7c1e5d0a-3f0e-4c53-9b7e-0a1d2b3c4d01"),
        # creates a new user, attaches AdministratorAccess to it, then an access key for it
        ("aws.persistence.iam-create-admin-user", "7c1e5d0a-3f0e-4c53-9b7e-0a1d2b3c4d01"),
        ("aws.persistence.iam-create-admin-user", "wl-admin-policy-attached"),
        # creates a role trusted by an outside account and attaches AdministratorAccess to it
        ("aws.persistence.iam-create-backdoor-role", "wl-admin-policy-attached"),
        ("aws.exfiltration.ec2-security-group-open-port-22-ingress", "7c1e5d0a-3f0e-4c53-9b7e-0a1d2b3c4d02"),
        # 30 GetPasswordData calls denied with Client.UnauthorizedOperation within a minute
        ("aws.credential-access.ec2-get-password-data", "wl-access-denied-burst"),
    ]
    fired_by_file = {}
    for f in sorted(folder.glob("*.json")):
        found = findings_for(rules, match_events(rules, json.loads(f.read_text())))
        fired_by_file[f.stem] = {x.rule.id for x in found}
    for technique, rule_id in expected:
        assert rule_id in fired_by_file[technique], technique
    # every other technique's events stay quiet (none has > 600 calls by one principal either)
    quiet = {k: v for k, v in fired_by_file.items() if k not in {t for t, _ in expected}}
    assert all(not v for v in quiet.values()), {k: v for k, v in quiet.items() if v}
