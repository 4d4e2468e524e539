"""Synthetic CloudTrail: real S3 layout, believable activity, labelled scenarios, determinism."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.sources import read
from pipeline.synthetic.cloudtrail import generate
from pipeline.synthetic.scenarios import SCENARIOS

NAME = re.compile(r"AWSLogs/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/"
                  r"\1_CloudTrail_\2_(\d{8})T(\d{4})Z_[A-Za-z0-9]{16}\.json\.gz$")
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def _events(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for p in sorted(root.rglob("*_CloudTrail_*.json.gz")):
        for e in json.loads(gzip.decompress(p.read_bytes()))["Records"]:
            out.append((p, e))
    return out


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("ct")
    res = generate(root, seed=3, start=START, duration_s=86400, rate=0.05, scenarios=list(SCENARIOS))
    return root, res


def test_files_follow_the_s3_layout_and_delivery_time(day: tuple[Path, Any]) -> None:
    root, res = day
    pairs = _events(root)
    assert len(pairs) == res.events > 3000
    for path, e in pairs:
        m = NAME.search(path.as_posix())
        assert m, path
        acct, region, y, mo, d, ymd, hm = m.groups()
        assert ymd == y + mo + d and e["recipientAccountId"] == acct and e["awsRegion"] == region
        delivered = datetime.strptime(ymd + hm, "%Y%m%d%H%M").replace(tzinfo=UTC)
        t = datetime.strptime(e["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert t <= delivered and (delivered - t).total_seconds() < 15 * 60
        assert START <= t < START.replace(day=3)


def test_reader_reads_everything_back(day: tuple[Path, Any]) -> None:
    root, res = day
    rows = rejected = 0
    skipped: Counter[str] = Counter()
    for b in read("cloudtrail", root):
        rows += b.table.num_rows
        rejected += len(b.rejections)
        skipped.update(b.skipped)
    assert (rows, rejected, skipped["digest_files"]) == (res.events, 0, 1)


def test_digest_lists_files_with_sha256_of_uncompressed_content(day: tuple[Path, Any]) -> None:
    root, _ = day
    digests = list(root.rglob("*CloudTrail-Digest*.json.gz"))
    assert len(digests) == 1
    body = json.loads(gzip.decompress(digests[0].read_bytes()))
    assert body["digestSignatureAlgorithm"] == "SHA256withRSA" and body["logFiles"]
    for f in body["logFiles"]:
        raw = gzip.decompress((root / f["s3Object"]).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == f["hashValue"]


def test_activity_is_believable(day: tuple[Path, Any]) -> None:
    root, res = day
    label_ids = {i for lb in res.labels for i in lb["event_ids"]}
    evs = [e for _, e in _events(root) if e["eventID"] not in label_ids]
    assert len({e["eventID"] for e in evs}) == len(evs)
    sources = Counter(e["eventSource"] for e in evs)
    assert len(sources) >= 12 and sources["monitoring.amazonaws.com"] > 0
    types = Counter(e["userIdentity"]["type"] for e in evs)
    assert {"IAMUser", "AssumedRole", "AWSService"} <= set(types)
    errors = Counter(e.get("errorCode") for e in evs)
    assert errors["AccessDenied"] and errors["NoSuchEntity"] and errors["Client.RequestLimitExceeded"]
    assert 0.01 < sum(v for k, v in errors.items() if k) / len(evs) < 0.1
    reads = sum(e["readOnly"] for e in evs) / len(evs)
    assert 0.5 < reads < 0.9
    logins = [e for e in evs if e["eventName"] == "ConsoleLogin"]
    assert logins and all(e["additionalEventData"]["MFAUsed"] == "Yes" for e in logins
                          if e["responseElements"]["ConsoleLogin"] == "Success")
    # global services are recorded in us-east-1
    assert all(e["awsRegion"] == "us-east-1" for e in evs
               if e["eventSource"] in ("iam.amazonaws.com", "sts.amazonaws.com", "signin.amazonaws.com"))
    # humans work office hours: IAM users are far busier at 10:00 than at 03:00 on a Monday
    humans = Counter(int(e["eventTime"][11:13]) for e in evs if e["userIdentity"]["type"] == "IAMUser")
    assert sum(humans[h] for h in range(9, 17)) > 10 * sum(humans[h] for h in range(0, 5))


def test_scenarios_are_labelled_and_present(day: tuple[Path, Any]) -> None:
    root, res = day
    by_id = {e["eventID"]: e for _, e in _events(root)}
    labels = {lb["scenario"]: lb for lb in res.labels}
    assert set(labels) == set(SCENARIOS)
    for lb in res.labels:
        evs = [by_id[i] for i in lb["event_ids"]]
        assert len(evs) == lb["event_count"]
        assert all(lb["start"] <= e["eventTime"] < lb["end"] for e in evs)
        assert lb["technique_id"].startswith("T")
    names = lambda s: [by_id[i]["eventName"] for i in labels[s]["event_ids"]]  # noqa: E731
    assert names("cloudtrail_stop_logging")[-2:] == ["StopLogging", "DeleteTrail"]
    key = [by_id[i] for i in labels["access_key_for_other_user"]["event_ids"]][-1]
    assert key["eventName"] == "CreateAccessKey" and key["requestParameters"]["userName"] == "alice"
    assert key["userIdentity"]["userName"] == "bob" and "errorCode" not in key
    sg = [by_id[i] for i in labels["security_group_opened_to_world"]["event_ids"]][-1]
    assert sg["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"]["items"][0]["cidrIp"] == "0.0.0.0/0"
    login = by_id[labels["console_login_without_mfa"]["event_ids"][0]]
    assert login["eventName"] == "ConsoleLogin" and login["additionalEventData"]["MFAUsed"] == "No"
    burst = [by_id[i] for i in labels["access_denied_burst"]["event_ids"]]
    assert len(burst) >= 50 and {e["errorCode"] for e in burst} == {"AccessDenied"}
    assert len({e["sourceIPAddress"] for e in burst}) == 1
    spike = [by_id[i] for i in labels["api_call_rate_spike"]["event_ids"]]
    others = [e for e in by_id.values() if e["eventName"] == "RunInstances" and e["eventID"] not in
              set(labels["api_call_rate_spike"]["event_ids"])]
    spike_minutes = (datetime.fromisoformat(labels["api_call_rate_spike"]["end"].replace("Z", "+00:00"))
                     - datetime.fromisoformat(labels["api_call_rate_spike"]["start"].replace("Z", "+00:00"))
                     ).total_seconds() / 60
    assert len(spike) / spike_minutes > 100 * max(1, len(others)) / 1440  # per-minute rate vs the day
    # attacks happen on the last day of the window
    assert all(lb["start"] >= "2026-11-02" for lb in res.labels)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
        return h.hexdigest()

    kw: dict[str, Any] = {"start": START, "duration_s": 3 * 3600, "rate": 0.2, "scenarios": ["cloudtrail_stop_logging"]}
    generate(tmp_path / "a", seed=5, **kw)
    generate(tmp_path / "b", seed=5, **kw)
    generate(tmp_path / "c", seed=6, **kw)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
