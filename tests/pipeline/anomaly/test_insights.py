"""CloudTrail Insights on generated CloudTrail with an injected call-rate spike and error burst."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc
import pytest

from pipeline.anomaly.insights import find_episodes, run_insights
from pipeline.query.duck import connect
from pipeline.sources.cloudtrail import events_to_table

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SPIKE = datetime(2026, 11, 8, 10, 0, tzinfo=UTC)
BURST = datetime(2026, 11, 8, 14, 30, tzinfo=UTC)
ATTACKER = "arn:aws:iam::111122223333:user/attacker"


def _ev(t: datetime, n: int, name: str, src: str, *, ro: bool, arn: str, agent: str,
        error: str | None = None) -> dict:
    return {"eventVersion": "1.08", "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventID": f"{name}-{t:%Y%m%d%H%M}-{n}", "eventSource": src, "eventName": name,
            "awsRegion": "us-east-1", "readOnly": ro, "managementEvent": True,
            "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": arn}, "userAgent": agent,
            "sourceIPAddress": "203.0.113.9", "errorCode": error}


def _events() -> list[dict]:
    evs = []
    for i in range(9 * 1440):
        t = T0 + timedelta(minutes=i)
        if i % 20 == 0:  # 0.05 writes / minute
            evs.append(_ev(t, 0, "RunInstances", "ec2.amazonaws.com", ro=False,
                           arn="arn:aws:iam::111122223333:role/deployer", agent="terraform"))
        if i % 2 == 0:
            evs.append(_ev(t, 0, "ListBuckets", "s3.amazonaws.com", ro=True,
                           arn="arn:aws:iam::111122223333:role/app", agent="aws-sdk-go",
                           error="AccessDenied" if i % 100 == 50 else None))
    for m in range(15):
        for k in range(40):
            evs.append(_ev(SPIKE + timedelta(minutes=m, seconds=k), k + 1, "RunInstances",
                           "ec2.amazonaws.com", ro=False, arn=ATTACKER, agent="boto3/evil"))
    for m in range(10):
        for k in range(20):
            evs.append(_ev(BURST + timedelta(minutes=m, seconds=k), k + 1, "ListBuckets",
                           "s3.amazonaws.com", ro=True, arn=ATTACKER, agent="boto3/evil",
                           error="AccessDenied"))
    return evs


@pytest.fixture
def ct_lake(lake):
    table, rejected = events_to_table(_events(), "test")
    assert not rejected
    days = pc.strftime(table["eventTime"], format="%Y-%m-%d")
    for day in sorted(set(days.to_pylist())):
        lake.write_partition("cloudtrail", {"dt": day, "hour": "00"},
                             table.filter(pc.equal(days, day)))
    return lake


def test_finds_spike_and_access_denied_burst(ct_lake) -> None:
    res = run_insights(ct_lake)
    got = {(i.insight_type, i.event_name): i for i in res.insights}
    assert set(got) == {("ApiCallRateInsight", "RunInstances"),
                        ("ApiErrorRateInsight", "ListBuckets")}
    spike = got[("ApiCallRateInsight", "RunInstances")]
    assert (spike.start_time, spike.end - spike.start) == (SPIKE, 15)
    assert spike.baseline_avg == pytest.approx(504 / 10080)  # one write every 20 minutes
    assert spike.insight_avg == pytest.approx((15 * 40 + 1) / 15)
    arns = next(a for a in spike.attributions if a["attribute"] == "userIdentityArn")
    assert arns["insight"][0] == {"value": ATTACKER, "average": 40.0}
    burst = got[("ApiErrorRateInsight", "ListBuckets")]
    assert (burst.start_time, burst.end - burst.start) == (BURST, 10)
    # background errors: even minutes i with i % 100 == 50 in the 7 days before the burst
    first = int((BURST - timedelta(days=7) - T0).total_seconds() // 60)
    last = int((BURST - T0).total_seconds() // 60)
    assert burst.baseline_avg == pytest.approx(
        sum(1 for i in range(first, last) if i % 100 == 50) / 10080)


def test_events_are_in_cloudtrail_insights_format_and_rerun_is_stable(ct_lake) -> None:
    run_insights(ct_lake)
    con = connect(ct_lake, ["insights"])
    rows = con.execute("SELECT eventTime, eventID, sharedEventID, eventType, eventCategory, "
                       "insightDetails, userIdentity FROM insights ORDER BY eventTime, eventID"
                       ).fetchall()
    assert len(rows) == 4
    by_shared: dict[str, list] = {}
    for r in rows:
        assert r[3] == "AwsCloudTrailInsight" and r[4] == "Insight" and r[6] is None
        by_shared.setdefault(r[2], []).append(r)
    assert len(by_shared) == 2
    for pair in by_shared.values():
        start, end = (json.loads(p[5]) for p in pair)
        assert (start["state"], end["state"]) == ("Start", "End")
        assert pair[0][1] != pair[1][1]
        stats = end["insightContext"]["statistics"]
        assert stats["insightDuration"] == (pair[1][0] - pair[0][0]).total_seconds() / 60
        assert stats["baselineDuration"] == 10080
        attrs = {a["attribute"] for a in start["insightContext"]["attributions"]}
        assert attrs == {"userIdentityArn", "userAgent", "errorCode"}
        if start["insightType"] == "ApiErrorRateInsight":
            assert start["errorCode"] == "AccessDenied"
    run_insights(ct_lake)
    again = connect(ct_lake, ["insights"]).execute(
        "SELECT eventTime, eventID, sharedEventID FROM insights ORDER BY eventTime, eventID"
    ).fetchall()
    assert again == [r[:3] for r in rows]


def test_quiet_and_steady_series_have_no_episode() -> None:
    assert list(find_episodes([2.0] * (3 * 1440))) == []
    sparse = [0.0] * (3 * 1440)
    for i in range(0, len(sparse), 97):
        sparse[i] = 3.0  # a handful of calls at once is not an insight (needs ≥ 10 in 5 min)
    assert list(find_episodes(sparse)) == []


def test_empty_lake(lake) -> None:
    assert run_insights(lake).insights == []
