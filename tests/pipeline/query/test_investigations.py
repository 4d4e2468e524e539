"""Each saved investigation on a crafted account history; expected answers are counted in plain
Python over the raw event dicts (not with SQL)."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.errors import QueryError
from pipeline.query import investigations as inv
from pipeline.query.investigations import run_investigation
from tests.pipeline.query.ctdata import event, write_events

SESSION = "arn:aws:sts::111122223333:assumed-role/deployer/ci-42"
SESSION_KEY = "ASIASESSION42"
ROOT = dict(utype="Root", user=None, key=None)
ROLE_ID = {"sessionIssuer": {"type": "Role", "userName": "deployer",
                             "arn": "arn:aws:iam::111122223333:role/deployer"}}


def _history():
    ev = []
    day = "2026-11-0{}T{:02d}:{:02d}:00Z"
    # ordinary traffic: alice and bob, mostly us-east-1, reads and writes
    for d in range(1, 6):
        for h in range(8, 18, 3):
            ev.append(event("DescribeInstances", day.format(d, h, 5), source="ec2.amazonaws.com", user="bob",
                            key="AKIABOB", ip="198.51.100.20", read_only=True))
            ev.append(event("PutObject", day.format(d, h, 10), source="s3.amazonaws.com", user="alice",
                            request={"bucketName": "reports", "key": f"r{d}{h}.csv"}))
    # one call from an unusual region
    ev.append(event("ListBuckets", day.format(3, 2, 0), source="s3.amazonaws.com", user="bob", key="AKIABOB",
                    region="ap-southeast-2", ip="203.0.113.50", read_only=True))
    # root usage (and one AWS-service call on root's behalf, not counted)
    ev.append(event("ConsoleLogin", day.format(2, 7, 0), source="signin.amazonaws.com", **ROOT,
                    ip="203.0.113.7", eventType="AwsConsoleSignIn", response={"ConsoleLogin": "Success"},
                    additionalEventData={"MFAUsed": "No"}))
    ev.append(event("CreateAccessKey", day.format(2, 7, 5), **ROOT, ip="203.0.113.7",
                    response={"accessKey": {"accessKeyId": "AKIANEWROOTKEY", "userName": "root"}}))
    svc = event("GetBucketAcl", day.format(2, 7, 6), source="s3.amazonaws.com", **ROOT, read_only=True)
    svc["userIdentity"]["invokedBy"] = "cloudtrail.amazonaws.com"
    ev.append(svc)
    # console logins: dana with MFA, erin without, mallory failed
    ev.append(event("ConsoleLogin", day.format(1, 9, 0), source="signin.amazonaws.com", user="dana", key=None,
                    eventType="AwsConsoleSignIn", response={"ConsoleLogin": "Success"},
                    additionalEventData={"MFAUsed": "Yes"}))
    ev.append(event("ConsoleLogin", day.format(1, 9, 30), source="signin.amazonaws.com", user="erin", key=None,
                    eventType="AwsConsoleSignIn", response={"ConsoleLogin": "Success"},
                    additionalEventData={"MFAUsed": "No"}))
    ev.append(event("ConsoleLogin", day.format(4, 9, 30), source="signin.amazonaws.com", user="erin", key=None,
                    eventType="AwsConsoleSignIn", response={"ConsoleLogin": "Success"}))
    ev.append(event("ConsoleLogin", day.format(1, 10, 0), source="signin.amazonaws.com", user="mallory", key=None,
                    eventType="AwsConsoleSignIn", response={"ConsoleLogin": "Failure"}))
    # new users and keys (one failed CreateUser)
    ev.append(event("CreateUser", day.format(3, 11, 0), user="alice", request={"userName": "svc-backup"},
                    response={"user": {"userName": "svc-backup"}}))
    ev.append(event("CreateAccessKey", day.format(3, 11, 1), user="alice", request={"userName": "svc-backup"},
                    response={"accessKey": {"accessKeyId": "AKIASVCBACKUP", "userName": "svc-backup"}}))
    ev.append(event("CreateUser", day.format(3, 11, 2), user="bob", key="AKIABOB", error="AccessDenied",
                    request={"userName": "evil"}))
    # an assumed-role session: created by AssumeRole, then used
    ev.append(event("AssumeRole", day.format(4, 12, 0), source="sts.amazonaws.com", user="alice", read_only=True,
                    request={"roleArn": "arn:aws:iam::111122223333:role/deployer", "roleSessionName": "ci-42"},
                    response={"credentials": {"accessKeyId": SESSION_KEY},
                              "assumedRoleUser": {"arn": SESSION, "assumedRoleId": "AROADEPLOYER:ci-42"}}))
    for i, (name, src, ro, req) in enumerate([
            ("RunInstances", "ec2.amazonaws.com", False, {"instanceType": "t3.micro"}),
            ("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", False, {"groupId": "sg-0123abcd"}),
            ("DescribeSecurityGroups", "ec2.amazonaws.com", True, {"groupIds": ["sg-0123abcd"]}),
            ("PutRolePolicy", "iam.amazonaws.com", False, {"roleName": "deployer", "policyName": "wide"}),
            ("StopLogging", "cloudtrail.amazonaws.com", False, {"name": "main-trail"})]):
        ev.append(event(name, day.format(4, 12, 5 + i), source=src, utype="AssumedRole", user=None,
                        key=SESSION_KEY, arn=SESSION, read_only=ro, request=req, session=ROLE_ID,
                        ip="192.0.2.44"))
    # throttling and denials
    for m in range(4):
        ev.append(event("DescribeInstances", day.format(5, 13, m), source="ec2.amazonaws.com", user="bob",
                        key="AKIABOB", ip="198.51.100.20", read_only=True, error="Client.RequestLimitExceeded"))
    ev.append(event("GetObject", day.format(5, 14, 0), source="s3.amazonaws.com", user="bob", key="AKIABOB",
                    ip="203.0.113.50", read_only=True, error="AccessDenied", request={"bucketName": "payroll"}))
    ev.append(event("RevokeSecurityGroupEgress", day.format(5, 15, 0), source="ec2.amazonaws.com", user="alice",
                    request={"groupId": "sg-0123abcd"}))
    # another change to the security group, by bob, that failed
    ev.append(event("AuthorizeSecurityGroupIngress", day.format(5, 16, 0), source="ec2.amazonaws.com", user="bob",
                    key="AKIABOB", error="UnauthorizedOperation", request={"groupId": "sg-0123abcd"}))
    return ev


EVENTS = _history()
WINDOW = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-06T00:00:00Z"}


@pytest.fixture(scope="module")
def inv_lake(tmp_path_factory):
    from pipeline.lake import Lake

    lake = Lake(tmp_path_factory.mktemp("inv") / "lake")
    write_events(lake, EVENTS)
    return lake


def run(lake, name, **params):
    return run_investigation(lake, name, {**WINDOW, **params})


def ids(result):
    return sorted(result.table.column("eventID").to_pylist())


def ui(e, key):
    return (e.get("userIdentity") or {}).get(key)


def test_all_ten_are_listed_with_descriptions():
    cat = inv.catalog()
    assert {"principal_activity", "session_activity", "resource_changes", "root_usage",
            "console_login_without_mfa", "new_keys_and_users", "denied_and_throttled", "unusual_regions",
            "top_write_callers", "security_changes"} <= set(cat)
    assert all(i.description for i in cat.values())


@pytest.mark.parametrize("principal", ["bob", "AKIABOB", "arn:aws:iam::111122223333:user/bob"])
def test_principal_activity(inv_lake, principal):
    expected = [e["eventID"] for e in EVENTS if ui(e, "userName") == "bob"]
    r = run(inv_lake, "principal_activity", principal=principal)
    assert ids(r) == sorted(expected) and len(expected) == 28  # 20 + 1 + 1 + 4 + 1 + 1
    times = r.table.column("eventTime").to_pylist()
    assert times == sorted(times, reverse=True)


def test_session_activity(inv_lake):
    created = [e["eventID"] for e in EVENTS if e["eventName"] == "AssumeRole"]
    used = [e["eventID"] for e in EVENTS if ui(e, "arn") == SESSION]
    for key in (SESSION, SESSION_KEY):
        r = run(inv_lake, "session_activity", session=key)
        assert r.table.column("eventID").to_pylist() == created + used  # in time order
        assert r.table.column("relation").to_pylist()[0] == "created the session"


def test_resource_changes(inv_lake):
    expected = [e["eventID"] for e in EVENTS if not e["readOnly"] and "sg-0123abcd" in str(e["requestParameters"])]
    r = run(inv_lake, "resource_changes", resource="sg-0123abcd")
    assert ids(r) == sorted(expected) and len(expected) == 3
    assert set(r.table.column("who").to_pylist()) == {SESSION, "arn:aws:iam::111122223333:user/alice",
                                                      "arn:aws:iam::111122223333:user/bob"}


def test_root_usage(inv_lake):
    expected = [e["eventID"] for e in EVENTS if ui(e, "type") == "Root" and not ui(e, "invokedBy")]
    assert ids(run(inv_lake, "root_usage")) == sorted(expected) and len(expected) == 2


def test_console_login_without_mfa(inv_lake):
    expected = [e["eventID"] for e in EVENTS if e["eventName"] == "ConsoleLogin"
                and e["responseElements"]["ConsoleLogin"] == "Success"
                and (e.get("additionalEventData") or {}).get("MFAUsed") != "Yes"]
    r = run(inv_lake, "console_login_without_mfa")
    assert ids(r) == sorted(expected) and len(expected) == 3  # root + erin twice
    assert sorted(r.table.column("mfa_used").to_pylist()) == ["No", "No", "No"]


def test_new_keys_and_users(inv_lake):
    expected = [e["eventID"] for e in EVENTS if e["eventName"] in ("CreateUser", "CreateAccessKey")
                and not e["errorCode"]]
    r = run(inv_lake, "new_keys_and_users")
    assert ids(r) == sorted(expected) and len(expected) == 3
    assert sorted(k for k in r.table.column("access_key_id").to_pylist() if k) == ["AKIANEWROOTKEY", "AKIASVCBACKUP"]


def test_denied_and_throttled(inv_lake):
    denied = {"AccessDenied", "UnauthorizedOperation"}
    counts: Counter = Counter()
    for e in EVENTS:
        if e["errorCode"]:
            kind = "denied" if e["errorCode"] in denied else "throttled"
            counts[(ui(e, "arn"), e["sourceIPAddress"], kind)] += 1
    r = run(inv_lake, "denied_and_throttled")
    got = {(row[0], row[1]): (row[2], row[3]) for row in r.rows()}
    expected = {}
    for (arn, ip, kind), n in counts.items():
        d, t = expected.get((arn, ip), (0, 0))
        expected[(arn, ip)] = (d + n, t) if kind == "denied" else (d, t + n)
    assert got == expected
    assert r.rows()[0][:4] == ("arn:aws:iam::111122223333:user/bob", "198.51.100.20", 0, 4)


def test_unusual_regions(inv_lake):
    by_region = Counter(e["awsRegion"] for e in EVENTS)
    rare = sorted(r for r, n in by_region.items() if n / len(EVENTS) < 0.05)
    r = run(inv_lake, "unusual_regions", min_share="0.05")
    assert r.table.column("awsRegion").to_pylist() == rare == ["ap-southeast-2"]
    r = run(inv_lake, "unusual_regions", usual="us-east-1")
    assert r.table.column("awsRegion").to_pylist() == ["ap-southeast-2"]
    r = run(inv_lake, "unusual_regions", usual="us-east-1, ap-southeast-2")
    assert r.rows() == []


def test_top_write_callers(inv_lake):
    writes = Counter(ui(e, "arn") for e in EVENTS if not e["readOnly"])
    top = sorted(writes.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    r = run(inv_lake, "top_write_callers", top="3")
    assert [(row[0], row[1]) for row in r.rows()] == top


@pytest.mark.parametrize("category,names", [
    ("all", {"StopLogging", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress", "PutRolePolicy"}),
    ("cloudtrail", {"StopLogging"}),
    ("security_group", {"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress"}),
    ("iam_policy", {"PutRolePolicy"}),
])
def test_security_changes(inv_lake, category, names):
    expected = [e["eventID"] for e in EVENTS if e["eventName"] in names]
    r = run(inv_lake, "security_changes", category=category)
    assert ids(r) == sorted(expected)


def test_window_defaults_to_the_data_and_is_stated(inv_lake):
    r = run_investigation(inv_lake, "root_usage")
    assert r.notes[0] == "root_usage: window [2026-10-06T18:00:00Z, 2026-11-05T18:00:00Z)"
    assert len(r.rows()) == 2


def test_bad_parameters_are_refused(inv_lake):
    with pytest.raises(QueryError, match="required"):
        run_investigation(inv_lake, "principal_activity")
    with pytest.raises(QueryError, match="unknown parameter"):
        run_investigation(inv_lake, "root_usage", {"who": "x"})
    with pytest.raises(QueryError, match="must be a int"):
        run_investigation(inv_lake, "top_write_callers", {"top": "lots"})
    with pytest.raises(QueryError, match="unknown investigation"):
        run_investigation(inv_lake, "nope")


def test_injection_is_just_a_value(inv_lake):
    r = run(inv_lake, "principal_activity", principal="x' OR 1=1 --")
    assert r.rows() == []


def test_cli_investigate(inv_lake, capsys):
    import json

    from jobs.cli import main

    assert main(["--lake", str(inv_lake.root), "investigate", "--list"]) == 0
    assert "session_activity" in capsys.readouterr().out
    assert main(["--lake", str(inv_lake.root), "investigate", "root_usage", "--param", "start=2026-11-01",
                 "--format", "json"]) == 0
    out = capsys.readouterr()
    assert [r["eventName"] for r in json.loads(out.out)] == ["CreateAccessKey", "ConsoleLogin"]
    assert "window [2026-11-01T00:00:00Z" in out.err


def test_bad_investigation_files_name_file_and_line(tmp_path):
    from pipeline.errors import InputError

    bad = tmp_path / "bad.sql"
    bad.write_text("-- name: bad\n-- description: x\n-- param: who text — not a type\nSELECT 1\n")
    with pytest.raises(InputError) as info:
        inv.load(bad)
    assert info.value.line == 3 and str(bad) in str(info.value)
    bad.write_text("-- name: bad\n-- description: x\nSELECT $who\n")
    with pytest.raises(InputError, match=r"undeclared parameter \$who"):
        inv.load(bad)
    bad.write_text("SELECT 1\n")
    with pytest.raises(InputError, match="name"):
        inv.load(bad)
