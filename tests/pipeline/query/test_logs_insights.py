"""Logs Insights queries written as the AWS documentation writes them, on a small fixed dataset.

Every expected row below was worked out by hand from the ten CloudTrail events and eight log
events defined here (comments show the reasoning), not from the translator's output.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipeline.errors import QueryError
from pipeline.query.logs_insights import run_insights, to_sql
from pipeline.schemas import LOGS
from tests.pipeline.query.ctdata import event, write_events

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 2, tzinfo=UTC)
ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"


def T(hms: str) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2026, 11, 1, h, m, s, tzinfo=UTC)


CT = [
    # e1..e10, all on 2026-11-01
    event("ConsoleLogin", "2026-11-01T10:00:10Z", source="signin.amazonaws.com", user="dana", key=None,
          ip="198.51.100.7", response={"ConsoleLogin": "Success"}, additionalEventData={"MFAUsed": "Yes"}),
    event("ConsoleLogin", "2026-11-01T10:01:00Z", source="signin.amazonaws.com", user="mallory", key=None,
          ip="203.0.113.9", response={"ConsoleLogin": "Failure"}, errorMessage="Failed authentication"),
    event("ConsoleLogin", "2026-11-01T10:02:30Z", source="signin.amazonaws.com", user="mallory", key=None,
          ip="203.0.113.9", response={"ConsoleLogin": "Failure"}, errorMessage="Failed authentication"),
    event("CreateUser", "2026-11-01T10:03:00Z", user="alice", ip="198.51.100.7", request={"userName": "eve"}),
    event("DeleteBucket", "2026-11-01T10:04:00Z", source="s3.amazonaws.com", user="alice", ip="198.51.100.7",
          region="eu-west-1", error="AccessDenied", request={"bucketName": "logs-bucket"}),
    event("GetObject", "2026-11-01T10:06:00Z", source="s3.amazonaws.com", user="bob", ip="192.0.2.1",
          region="eu-west-1", error="AccessDenied", read_only=True, request={"bucketName": "data", "key": "a.txt"}),
    event("RunInstances", "2026-11-01T10:07:30Z", source="ec2.amazonaws.com", user="bob", ip="198.51.100.20",
          region="us-west-2", request={"instanceType": "t3.micro", "maxCount": 2}),
    event("AssumeRole", "2026-11-01T10:11:00Z", source="sts.amazonaws.com", user=None, utype="AssumedRole",
          arn="arn:aws:sts::111122223333:assumed-role/ci/runner", ip="192.0.2.1", read_only=True,
          session={"sessionIssuer": {"type": "Role", "userName": "ci"}}),
    event("DescribeInstances", "2026-11-01T10:12:00Z", source="ec2.amazonaws.com", user="bob", ip="198.51.100.20",
          read_only=True, error="Client.RequestLimitExceeded"),
    event("PutBucketPolicy", "2026-11-01T10:16:00Z", source="s3.amazonaws.com", user="alice", ip="198.51.100.7",
          request={"bucketName": "data"}),
]

LOG_EVENTS = [  # (time, stream, message)
    ("10:00:00", "s1", "START RequestId: r1"),
    ("10:00:01", "s1", "[ERROR] payment failed user=alice latency=120"),
    ("10:00:02", "s1", '{"level":"INFO","latency":30,"user":"bob"}'),
    ("10:01:00", "s2", "[INFO] ok user=bob latency=45"),
    ("10:02:00", "s2", "[ERROR] timeout user=carol latency=900"),
    ("10:06:00", "s2", '{"level":"ERROR","latency":300,"user":"alice"}'),
    ("10:07:00", "s1", "java.lang.NullPointerException at Foo"),
    ("10:20:00", "s1", "[WARN] slow user=alice latency=600"),
]


@pytest.fixture(scope="module")
def li_lake(tmp_path_factory):
    from pipeline.lake import Lake

    lake = Lake(tmp_path_factory.mktemp("li") / "lake")
    write_events(lake, CT)
    rows = [{"owner": "111122223333", "logGroup": "/aws/lambda/orders", "logStream": s, "id": str(i),
             "timestamp": T(t), "message": m, "ingestionTime": T(t)} for i, (t, s, m) in enumerate(LOG_EVENTS)]
    lake.write_partition("logs", {"dt": "2026-11-01", "hour": "10"}, pa.Table.from_pylist(rows, schema=LOGS))
    return lake


CASES = [
    # (source, query, expected rows, ordered?)
    ("logs", "fields @timestamp, @message | sort @timestamp desc | limit 3",
     [(T("10:20:00"), "[WARN] slow user=alice latency=600"), (T("10:07:00"), "java.lang.NullPointerException at Foo"),
      (T("10:06:00"), '{"level":"ERROR","latency":300,"user":"alice"}')], True),
    ("logs", "filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h) "
     "| sort exceptionCount desc", [(T("10:00:00"), 1)], True),
    ("cloudtrail", "stats count(*) by eventSource",
     [("ec2.amazonaws.com", 2), ("iam.amazonaws.com", 1), ("s3.amazonaws.com", 3), ("signin.amazonaws.com", 3),
      ("sts.amazonaws.com", 1)], False),
    ("cloudtrail", 'filter eventName = "ConsoleLogin" and responseElements.ConsoleLogin = "Failure"\n'
     "| stats count(*) as failures by userIdentity.userName, sourceIPAddress | sort failures desc",
     [("mallory", "203.0.113.9", 2)], True),
    # glob: level=ERROR for the two "[ERROR] …" lines; newest first (10:02 then 10:00:01)
    ("logs", 'parse @message "[*] *" as level, text | filter level = "ERROR" | display text',
     [("timeout user=carol latency=900",), ("payment failed user=alice latency=120",)], True),
    # AccessDenied: e5 alice 10:04 (bin 10:00), e6 bob 10:06 (bin 10:05)
    ("cloudtrail", 'fields @timestamp, eventName | filter errorCode = "AccessDenied" '
     "| stats count(*) by bin(5m), userIdentity.arn | sort bin(5m) asc | limit 20",
     [(T("10:00:00"), ALICE, 1), (T("10:05:00"), BOB, 1)], True),
    ("cloudtrail", "filter errorCode like /AccessDenied|Throttl|LimitExceeded/ "
     "| stats count(*) as n by errorCode | sort n desc, errorCode asc",
     [("AccessDenied", 2), ("Client.RequestLimitExceeded", 1)], True),
    # IPs: 198.51.100.7, 203.0.113.9, 192.0.2.1, 198.51.100.20
    ("cloudtrail", "stats count_distinct(sourceIPAddress) as ips", [(4,)], True),
    # writes (readOnly false): e1-e5, e7, e10 → dana 1, mallory 2, alice 3, bob 1
    ("cloudtrail", "filter readOnly = false | stats count(*) as writes by userIdentity.userName "
     "| sort writes desc, userIdentity.userName asc",
     [("alice", 3), ("mallory", 2), ("bob", 1), ("dana", 1)], True),
    ("cloudtrail", 'filter eventSource = "s3.amazonaws.com" | fields requestParameters.bucketName as bucket '
     "| dedup bucket | sort bucket asc", [("data",), ("logs-bucket",)], True),
    ("cloudtrail", "filter ispresent(errorCode) | stats count(*) as errors", [(3,)], True),
    ("cloudtrail", 'filter awsRegion in ["eu-west-1", "us-west-2"] | stats count(*) by awsRegion | sort awsRegion',
     [("eu-west-1", 2), ("us-west-2", 1)], True),
    # read-only events: e6 GetObject, e8 AssumeRole, e9 DescribeInstances; AssumeRole excluded
    ("cloudtrail", 'filter eventName not in ["ConsoleLogin", "AssumeRole"] and readOnly = true '
     "| fields eventName | sort @timestamp asc", [("GetObject",), ("DescribeInstances",)], True),
    ("cloudtrail", "stats earliest(eventName) as first, latest(eventName) as last",
     [("ConsoleLogin", "PutBucketPolicy")], True),
    ("cloudtrail", 'fields strlen(eventName) as len, toupper(awsRegion) as region | filter eventName = "GetObject"',
     [(9, "EU-WEST-1")], True),
    ("cloudtrail", 'filter tolower(eventName) like "bucket" | fields eventName | sort eventName',
     [("DeleteBucket",), ("PutBucketPolicy",)], True),
    ("cloudtrail", "filter eventName =~ /^(Create|Delete)/ | stats count(*) as n", [(2,)], True),
    ("cloudtrail", "filter requestParameters.maxCount >= 2 | fields eventName, requestParameters.instanceType",
     [("RunInstances", "t3.micro")], True),
    ("cloudtrail", 'filter userIdentity.type = "AssumedRole" '
     "| fields userIdentity.sessionContext.sessionIssuer.userName as role, sourceIPAddress",
     [("ci", "192.0.2.1")], True),
    # alice 120 & 600 → avg 360, max 600; bob 45; carol 900
    ("logs", r"parse @message /user=(?<user>\w+) latency=(?<latency>\d+)/ | filter ispresent(user) "
     "| stats avg(latency) as avg_latency, max(latency) as max_latency, count(*) as n by user | sort user",
     [("alice", 360.0, 600.0, 2), ("bob", 45.0, 45.0, 1), ("carol", 900.0, 900.0, 1)], True),
    ("logs", 'filter level = "ERROR" | fields user, latency', [("alice", "300")], True),
    ("logs", "filter ispresent(level) | stats sum(latency) as total, min(latency) as lo by level | sort level",
     [("ERROR", 300.0, 300.0), ("INFO", 30.0, 30.0)], True),
    # text latencies 120, 45, 900, 600 → nearest rank: p50 = 2nd of (45,120,600,900) = 120, p90 = 4th = 900
    ("logs", 'parse @message "latency=*" as latency | filter ispresent(latency) '
     "| stats pct(latency, 50) as p50, pct(latency, 90) as p90, count(*) as n", [(120.0, 900.0, 4)], True),
    ("logs", 'fields @timestamp, @logStream, @log | filter @logStream = "s2" | sort @timestamp asc | limit 1',
     [(T("10:01:00"), "s2", "111122223333:/aws/lambda/orders")], True),
    ("logs", "stats count(*) as n by @logStream | sort n desc", [("s1", 5), ("s2", 3)], True),
    # "ERROR" substring: 10:00:01 and 10:02 (bin 10:00), JSON 10:06 (bin 10:05)
    ("logs", 'filter @message like "ERROR" | stats count(*) as errors by bin(5m) | sort bin(5m)',
     [(T("10:00:00"), 2), (T("10:05:00"), 1)], True),
    # errorCode is null for 7 of 10 events
    ("cloudtrail", "filter isblank(errorCode) | stats count(*) as ok", [(7,)], True),
    ("cloudtrail", 'fields concat(userIdentity.userName, "@", awsRegion) as who | filter eventName = "RunInstances"',
     [("bob@us-west-2",)], True),
    ("cloudtrail", 'display eventName, sourceIPAddress | filter sourceIPAddress = "192.0.2.1" | sort @timestamp desc',
     [("AssumeRole", "192.0.2.1"), ("GetObject", "192.0.2.1")], True),
    ("cloudtrail", "stats count(*) as calls by eventName | filter calls > 1 | sort calls desc",
     [("ConsoleLogin", 3)], True),
    # 10-minute floors: e1..e7 in [10:00,10:10), e8..e10 in [10:10,10:20)
    ("cloudtrail", "stats count(*) as n by datefloor(@timestamp, 10m)", [(T("10:00:00"), 7), (T("10:10:00"), 3)],
     False),
    ("cloudtrail", 'filter eventName = "ConsoleLogin" '
     "| stats count(*) as logins by responseElements.ConsoleLogin as result | sort result",
     [("Failure", 2), ("Success", 1)], True),
    ("cloudtrail", "sort eventTime desc | limit 2 | fields eventName", [("PutBucketPolicy",), ("DescribeInstances",)],
     True),
    ("cloudtrail", 'filter additionalEventData.MFAUsed = "Yes" | fields userIdentity.userName', [("dana",)], True),
    ("cloudtrail", "stats sum(requestParameters.maxCount) as instances, avg(requestParameters.maxCount) as avg_n",
     [(2.0, 2.0)], True),
    ("logs", "filter @message like /(?i)nullpointer/ | fields @message", [("java.lang.NullPointerException at Foo",)],
     True),
    # dedup keeps the newest event per user (default order), the null-user AssumeRole is never dropped
    ("cloudtrail", "dedup userIdentity.userName | sort userIdentity.userName asc | fields userIdentity.userName",
     [("alice",), ("bob",), ("dana",), ("mallory",), (None,)], True),
    ("cloudtrail", "# who failed to sign in?\nfilter responseElements.ConsoleLogin = \"Failure\"\n"
     "| stats count(*) as n, min(@timestamp) as first by sourceIPAddress", [("203.0.113.9", 2, T("10:01:00"))], True),
    ("logs", 'filter @message like "user=" | parse @message "user=* " as who | stats count_distinct(who) as users',
     [(3,)], True),
]


@pytest.mark.parametrize("source,query,expected,ordered", CASES, ids=[f"q{i:02d}" for i in range(len(CASES))])
def test_documented_queries(li_lake, source, query, expected, ordered):
    result = run_insights(li_lake, query, source=source, start=START, end=END)
    rows = result.rows()
    if ordered:
        assert rows == expected
    else:
        assert sorted(rows, key=repr) == sorted(expected, key=repr)


def test_there_are_at_least_30_documented_queries():
    assert len(CASES) >= 30


def test_column_names_follow_logs_insights(li_lake):
    r = run_insights(li_lake, "stats count(*), avg(requestParameters.maxCount) by bin(5m)", start=START, end=END)
    assert r.columns == ["bin(5m)", "count(*)", "avg(requestParameters.maxCount)"]
    r = run_insights(li_lake, "limit 1", source="logs", start=START, end=END)
    assert r.columns == ["@timestamp", "@message"]


@pytest.mark.parametrize("query,position,word", [
    ("fields eventName | pattern @message", 19, "unsupported command"),
    ("fields eventName | stats foo(x)", 25, "unsupported function"),
    ("filter eventName ~ 1", 17, "unexpected character"),
    ("stats count(*) by", 17, "end of query"),
    ("limit 0", 6, "limit"),
    ("fields @nope", 7, "unknown system field"),
    ('parse @message "a * b *" as x', 15, "names follow"),
    ("stats count(*) as n | fields eventName", 29, "not available after stats"),
    ("filter count(*) > 1", 7, "aggregation"),
    ("filter eventName = \"x", 19, "unterminated string"),
])
def test_unsupported_syntax_points_at_the_token(query, position, word):
    with pytest.raises(QueryError) as info:
        to_sql(query)
    assert info.value.position == position
    assert word in str(info.value)


def test_explain_is_plain_duckdb_sql(li_lake):
    sql = to_sql('filter errorCode = "AccessDenied" | stats count(*) as n by userIdentity.arn', start=START)
    assert sql.startswith('WITH src AS (SELECT * FROM "cloudtrail" WHERE "eventTime" >= TIMESTAMPTZ')
    import duckdb

    from pipeline.query import catalog

    con = duckdb.connect()
    catalog.build(con, li_lake)
    assert sorted(con.execute(sql).fetchall()) == [(ALICE, 1), (BOB, 1)]


def test_cli_insights(li_lake, capsys):
    import json

    from jobs.cli import main

    base = ["--lake", str(li_lake.root), "insights"]
    assert main(base + ["stats count(*) as n by eventSource | sort n desc | limit 2", "--start",
                        "2026-11-01T00:00:00Z", "--format", "json"]) == 0
    assert [r["n"] for r in json.loads(capsys.readouterr().out)] == [3, 3]
    assert main(base + ["fields eventName", "--explain"]) == 0
    assert 'FROM "cloudtrail"' in capsys.readouterr().out
    assert main(base + ["fields a | diff"]) == 2
    assert "position 11" in capsys.readouterr().err


def test_without_start_the_default_bound_is_stated(li_lake):
    r = run_insights(li_lake, "stats count(*) as n", default_bound_hours=24)
    assert r.rows() == [(10,)]  # newest partition 10:00–11:00 → [10-31T11:00, 11-01T11:00) holds all ten
    assert r.notes == ["no time bound on cloudtrail: limited to the newest 24 h of its data, "
                       "[2026-10-31T11:00:00Z, 2026-11-01T11:00:00Z) (give a start time to choose the range)"]
