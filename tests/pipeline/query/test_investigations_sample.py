"""Every saved investigation on the committed sample data. Expected answers come from the
generator's labels (sample_data/labels/cloudtrail_scenarios.json) and from counts in plain Python
over the raw CloudTrail JSON files — never from SQL."""

from __future__ import annotations

import glob
import gzip
import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.lake import layout
from pipeline.query.investigations import run_investigation
from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.slow
WINDOW = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-09T00:00:00Z", "limit": "100000"}


def _raw() -> dict[str, dict]:
    events = {}
    for f in sorted(glob.glob(str(SAMPLE_DATA / "cloudtrail/AWSLogs/*/CloudTrail/**/*.json.gz"), recursive=True)):
        for r in json.loads(gzip.open(f).read())["Records"]:
            events[r["eventID"]] = r
    return events


RAW = _raw()
EVENTS = list(RAW.values())
LABELS = {s["scenario"]: s for s in json.loads((SAMPLE_DATA / "labels/cloudtrail_scenarios.json").read_text())}


def ui(e, key):
    return (e.get("userIdentity") or {}).get(key)


def js(e, field):
    return json.dumps(e.get(field)) if e.get(field) is not None else ""


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory):
    """The sample CloudTrail read by the project's reader and written to dt/hour partitions."""
    from pipeline.lake import Lake
    from pipeline.sources import read

    lake = Lake(tmp_path_factory.mktemp("sample") / "lake")
    table = pa.concat_tables(b.table for b in read("cloudtrail", str(SAMPLE_DATA / "cloudtrail")) if b.table.num_rows)
    dt = pc.strftime(table["eventTime"], "%Y-%m-%d")
    hour = pc.strftime(table["eventTime"], "%H")
    keys = sorted(set(zip(dt.to_pylist(), hour.to_pylist())))
    for d, h in keys:
        part = table.filter(pc.and_(pc.equal(dt, d), pc.equal(hour, h)))
        folder = lake.path(layout.partition_path("cloudtrail", {"dt": d, "hour": h}))
        __import__("os").makedirs(folder, exist_ok=True)
        pq.write_table(part, f"{folder}/part-0.parquet")
    return lake


def run(lake, name, **params):
    return run_investigation(lake, name, {**WINDOW, **params}, max_rows=100_000)


def col(result, name):
    return result.table.column(name).to_pylist()


def test_sample_is_complete(sample_lake):
    assert run_investigation(sample_lake, "top_write_callers", {**WINDOW, "top": "1000"}).table.num_rows > 0
    manifest = json.loads((SAMPLE_DATA / "labels/manifest.json").read_text())
    assert len(RAW) == manifest["cloudtrail"]["events"]


def test_principal_activity_bob(sample_lake):
    expected = {e["eventID"] for e in EVENTS if ui(e, "userName") == "bob"}
    r = run(sample_lake, "principal_activity", principal="bob")
    assert set(col(r, "eventID")) == expected
    labelled = set(LABELS["access_key_for_other_user"]["event_ids"]) | set(LABELS["api_call_rate_spike"]["event_ids"])
    assert labelled <= expected


def test_session_activity_of_the_stolen_instance_role(sample_lake):
    burst = [RAW[i] for i in LABELS["access_denied_burst"]["event_ids"]]
    session = ui(burst[0], "arn")
    expected = {e["eventID"] for e in EVENTS if ui(e, "type") == "AssumedRole" and ui(e, "arn") == session}
    created = {e["eventID"] for e in EVENTS if e["eventName"].startswith("AssumeRole")
               and ((e.get("responseElements") or {}).get("assumedRoleUser") or {}).get("arn") == session}
    r = run(sample_lake, "session_activity", session=session)
    assert set(col(r, "eventID")) == expected | created
    assert {e["eventID"] for e in burst} <= set(col(r, "eventID"))


def test_who_changed_the_security_group(sample_lake):
    sg = "sg-0a11b22c33d44e55f"
    expected = {e["eventID"] for e in EVENTS if e.get("readOnly") is False
                and any(sg in js(e, f) for f in ("requestParameters", "responseElements", "resources"))}
    r = run(sample_lake, "resource_changes", resource=sg)
    assert set(col(r, "eventID")) == expected
    opened = [RAW[i] for i in LABELS["security_group_opened_to_world"]["event_ids"]
              if RAW[i]["eventName"] == "AuthorizeSecurityGroupIngress"]
    assert {e["eventID"] for e in opened} <= expected and set(col(r, "who")) >= {ui(opened[0], "arn")}


def test_root_usage(sample_lake):
    expected = {e["eventID"] for e in EVENTS if ui(e, "type") == "Root" and not ui(e, "invokedBy")}
    assert set(col(run(sample_lake, "root_usage"), "eventID")) == expected  # the sample has none


def test_console_login_without_mfa_finds_carol(sample_lake):
    expected = {e["eventID"] for e in EVENTS if e["eventName"] == "ConsoleLogin"
                and (e.get("responseElements") or {}).get("ConsoleLogin") == "Success"
                and (e.get("additionalEventData") or {}).get("MFAUsed") != "Yes"}
    r = run(sample_lake, "console_login_without_mfa")
    assert set(col(r, "eventID")) == expected
    login = [i for i in LABELS["console_login_without_mfa"]["event_ids"] if RAW[i]["eventName"] == "ConsoleLogin"]
    assert set(login) <= expected and "carol" in col(r, "who")


def test_new_keys_and_users_finds_the_key_for_alice(sample_lake):
    expected = {e["eventID"] for e in EVENTS if e["eventSource"] == "iam.amazonaws.com"
                and e["eventName"] in ("CreateUser", "CreateAccessKey", "CreateLoginProfile")
                and not e.get("errorCode")}
    r = run(sample_lake, "new_keys_and_users")
    assert set(col(r, "eventID")) == expected
    key = [i for i in LABELS["access_key_for_other_user"]["event_ids"] if RAW[i]["eventName"] == "CreateAccessKey"]
    assert set(key) <= expected
    row = [x for x in r.table.to_pylist() if x["eventID"] == key[0]][0]
    assert row["user_name"] == "alice" and row["created_by"].endswith("user/bob")


def test_denied_and_throttled_burst(sample_lake):
    denied = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Client.UnauthorizedOperation"}
    throttled = {"Client.RequestLimitExceeded", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
    counts: Counter = Counter()
    for e in EVENTS:
        code = e.get("errorCode")
        if code in denied or code in throttled:
            counts[(ui(e, "arn") or ui(e, "type"), e["sourceIPAddress"], code in denied)] += 1
    r = run(sample_lake, "denied_and_throttled")
    got = {(x["principal"], x["sourceIPAddress"]): (x["denied"], x["throttled"]) for x in r.table.to_pylist()}
    expected: dict = {}
    for (p, ip, is_denied), n in counts.items():
        d, t = expected.get((p, ip), (0, 0))
        expected[(p, ip)] = (d + n, t) if is_denied else (d, t + n)
    assert got == expected
    burst = RAW[LABELS["access_denied_burst"]["event_ids"][0]]
    assert got[(ui(burst, "arn"), "185.220.101.47")][0] >= LABELS["access_denied_burst"]["event_count"]


def test_unusual_regions(sample_lake):
    regions = Counter(e["awsRegion"] for e in EVENTS)
    r = run(sample_lake, "unusual_regions", usual="us-east-1")
    assert [(x["awsRegion"], x["calls"]) for x in r.table.to_pylist()] == [("eu-west-1", regions["eu-west-1"])]
    share = regions["eu-west-1"] / len(EVENTS)  # ≈ 4.3 %
    assert col(run(sample_lake, "unusual_regions", min_share=str(share + 0.001)), "awsRegion") == ["eu-west-1"]
    assert col(run(sample_lake, "unusual_regions", min_share=str(share - 0.001)), "awsRegion") == []


def test_top_write_callers(sample_lake):
    writes = Counter(ui(e, "arn") or ui(e, "invokedBy") or ui(e, "type") for e in EVENTS if e.get("readOnly") is False)
    expected = sorted(writes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    r = run(sample_lake, "top_write_callers", top="5")
    assert [(x["principal"], x["writes"]) for x in r.table.to_pylist()] == expected


@pytest.mark.parametrize("category,scenario,names", [
    ("cloudtrail", "cloudtrail_stop_logging", {"StopLogging", "DeleteTrail"}),
    ("security_group", "security_group_opened_to_world", {"AuthorizeSecurityGroupIngress"}),
])
def test_security_changes(sample_lake, category, scenario, names):
    r = run(sample_lake, "security_changes", category=category)
    labelled = {i for i in LABELS[scenario]["event_ids"] if RAW[i]["eventName"] in names}
    assert labelled and labelled <= set(col(r, "eventID"))
    all_names = {"cloudtrail": {"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
                                "PutInsightSelectors", "CreateTrail", "StartLogging"},
                 "security_group": {"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                                    "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateSecurityGroup",
                                    "DeleteSecurityGroup", "ModifySecurityGroupRules"}}[category]
    assert set(col(r, "eventID")) == {e["eventID"] for e in EVENTS if e["eventName"] in all_names}


def test_iam_policy_changes(sample_lake):
    names = {"PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "DeleteUserPolicy", "DeleteRolePolicy",
             "DeleteGroupPolicy", "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "DetachUserPolicy",
             "DetachRolePolicy", "DetachGroupPolicy", "CreatePolicy", "CreatePolicyVersion", "DeletePolicy",
             "DeletePolicyVersion", "SetDefaultPolicyVersion", "UpdateAssumeRolePolicy"}
    r = run(sample_lake, "security_changes", category="iam_policy")
    assert set(col(r, "eventID")) == {e["eventID"] for e in EVENTS if e["eventName"] in names}
