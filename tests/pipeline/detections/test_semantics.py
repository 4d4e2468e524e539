# ruff: noqa: E501
"""Sigma and EventBridge semantics on hand-written events; expectations derived by hand from the
Sigma specification and the EventBridge documentation, and both engines must agree."""

from __future__ import annotations

import textwrap

import pytest

from pipeline.detections.engine import match_events, match_lake
from pipeline.detections.eventbridge import compile_pattern
from pipeline.detections.model import Rule
from pipeline.detections.sigma import parse_sigma_text
from pipeline.lake import Lake
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events


def ev(i: int, **kw):
    base = {"eventVersion": "1.09", "eventID": f"e{i}", "eventTime": f"2026-11-08T10:00:{i:02d}Z",
            "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": "us-east-1",
            "sourceIPAddress": "10.1.2.3", "userAgent": "aws-cli/2", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice", "userName": "alice"},
            "requestParameters": None, "responseElements": None}
    base.update(kw)
    return base


EVENTS = [
    ev(0, eventName="AuthorizeSecurityGroupIngress", requestParameters={"groupId": "sg-1", "ipPermissions": {
        "items": [{"ipProtocol": "tcp", "fromPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}},
                  {"ipProtocol": "tcp", "fromPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]}}),
    ev(1, eventName="AuthorizeSecurityGroupIngress", requestParameters={"groupId": "sg-2", "ipPermissions": {
        "items": [{"ipProtocol": "tcp", "fromPort": 5432, "ipRanges": {"items": [{"cidrIp": "10.9.0.0/16"}]}}]}}),
    ev(2, eventName="CreateAccessKey", eventSource="iam.amazonaws.com", requestParameters={"userName": "bob"},
       responseElements={"accessKey": {"userName": "bob", "status": "Active"}}),
    ev(3, eventName="CreateAccessKey", eventSource="iam.amazonaws.com", requestParameters={"userName": "alice"},
       responseElements={"accessKey": {"userName": "Alice", "status": "Active"}}),
    ev(4, eventName="ConsoleLogin", eventSource="signin.amazonaws.com", eventType="AwsConsoleSignIn",
       additionalEventData={"MFAUsed": "No", "LoginTo": "https://console"}, responseElements={"ConsoleLogin": "Success"},
       sourceIPAddress="203.0.113.7"),
    ev(5, eventName="StopLogging", eventSource="cloudtrail.amazonaws.com", errorCode="AccessDenied",
       userAgent="Boto3/1.2 *star* agent", sourceIPAddress="AWS Internal"),
    ev(6, eventName="PutBucketVersioning", eventSource="s3.amazonaws.com",
       requestParameters={"bucketName": "b", "VersioningConfiguration": {"Status": "Suspended"}},
       resources=[{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}], newTopLevel={"x": 1}),
]


def sigma(detection: str, rid: str = "r1") -> Rule:
    text = (f"title: t\nid: {rid}\nlogsource: {{product: aws, service: cloudtrail}}\nlevel: low\n"
            "detection:\n" + textwrap.indent(textwrap.dedent(detection), "    "))
    return parse_sigma_text(text, "t.yml")[0]


SIGMA_CASES = [
    # case-insensitive equality, list as OR
    ("sel:\n  eventName: ['stoplogging', 'deletetrail']\ncondition: sel", {"e5"}),
    # through lists: any element; cidr on the nested value
    ("sel:\n  requestParameters.ipPermissions.items.ipRanges.items.cidrIp: '0.0.0.0/0'\ncondition: sel", {"e0"}),
    ("sel:\n  requestParameters.ipPermissions.items.fromPort: 22\ncondition: sel", {"e0"}),
    ("sel:\n  requestParameters.ipPermissions.items.ipRanges.items.cidrIp|startswith: '10.'\ncondition: sel",
     {"e0", "e1"}),
    # contains / endswith / wildcards / escaped star
    ("sel:\n  userAgent|contains: '\\*STAR\\*'\ncondition: sel", {"e5"}),
    ("sel:\n  userAgent|contains: '*'\ncondition: sel", {f"e{i}" for i in range(7)}),
    ("sel:\n  eventName: 'Create?ccess*'\ncondition: sel", {"e2", "e3"}),
    ("sel:\n  eventSource|endswith: 'N.AMAZONAWS.COM'\ncondition: sel", {"e4"}),
    # null = absent; not over a missing field is true
    ("sel:\n  errorCode: null\ncondition: not sel", {"e5"}),
    ("sel:\n  eventName: StopLogging\nf:\n  errorCode: AccessDenied\ncondition: sel and not f", set()),
    ("sel:\n  eventSource: ec2.amazonaws.com\nf:\n  errorCode: AccessDenied\ncondition: sel and not f",
     {"e0", "e1"}),
    # re is case-sensitive unless |i
    ("sel:\n  userIdentity.arn|re: ':user/A'\ncondition: sel", set()),
    ("sel:\n  userIdentity.arn|re|i: ':user/A'\ncondition: sel", {f"e{i}" for i in range(7)}),
    # all: every value must be found
    ("sel:\n  requestParameters|contains|all: ['Suspended', 'bucketName']\ncondition: sel", {"e6"}),
    ("sel:\n  requestParameters|contains|all: ['Suspended', 'nope']\ncondition: sel", set()),
    # fieldref (case-insensitive), and fieldref|contains
    ("sel:\n  eventName: CreateAccessKey\nf:\n  requestParameters.userName|fieldref: responseElements.accessKey.userName"
     "\ncondition: sel and not f", set()),
    ("sel:\n  userIdentity.arn|fieldref|contains: requestParameters.userName\ncondition: sel", {"e3"}),
    # cidr on sourceIPAddress ("AWS Internal" is not an address)
    ("sel:\n  sourceIPAddress|cidr: '203.0.113.0/24'\ncondition: sel", {"e4"}),
    ("sel:\n  sourceIPAddress|cidr: '0.0.0.0/0'\ncondition: not sel", {"e5"}),
    # nested JSON in additionalEventData, 1 of / all of / them / parentheses
    ("s_a:\n  additionalEventData.MFAUsed: 'no'\ns_b:\n  responseElements.ConsoleLogin: success\n"
     "condition: all of s_*", {"e4"}),
    ("s_a:\n  eventName: StopLogging\ns_b:\n  eventName: ConsoleLogin\ncondition: 1 of them", {"e4", "e5"}),
    ("a:\n  eventSource: iam.amazonaws.com\nb:\n  eventName: StopLogging\nc:\n  userIdentity.userName: alice\n"
     "condition: (a or b) and c", {"e2", "e3", "e5"}),
    # a list of maps is an OR of ANDs; exists; a field only in _wl_extra; resources (a JSON array)
    ("sel:\n  - eventName: StopLogging\n    errorCode: AccessDenied\n  - eventName: ConsoleLogin\ncondition: sel",
     {"e4", "e5"}),
    ("sel:\n  errorCode|exists: true\ncondition: sel", {"e5"}),
    ("sel:\n  newTopLevel.x: 1\ncondition: sel", {"e6"}),
    ("sel:\n  resources.type: 'aws::s3::bucket'\ncondition: sel", {"e6"}),
    ("sel:\n  requestParameters.ipPermissions.items.fromPort|gte: 5000\ncondition: sel", {"e1"}),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """One lake holding EVENTS for every case of this module (written by the loader's converter)."""
    lake = Lake(tmp_path_factory.mktemp("semantics") / "lake")
    write_events(lake, EVENTS)
    return connect(lake, ["cloudtrail"])


def both(con, rule: Rule) -> set[str]:
    """Matched eventIDs; the DuckDB engine over the lake and the Python engine over the raw
    dicts must agree."""
    sql = {m.event_id for m in match_lake(con, [rule])}
    assert sql == {m.event_id for m in match_events([rule], EVENTS)}
    return sql


@pytest.mark.parametrize("detection,expected", SIGMA_CASES)
def test_sigma_semantics_both_engines(con, detection, expected):
    assert both(con, sigma(detection)) == expected


EB_CASES = [
    ({"source": ["aws.cloudtrail"], "detail-type": ["AWS API Call via CloudTrail"]}, {"e5"}),
    ({"detail": {"eventName": [{"prefix": "Create"}]}}, {"e2", "e3"}),
    ({"detail": {"eventName": ["stoplogging"]}}, set()),  # exact is case-sensitive
    ({"detail": {"eventName": [{"equals-ignore-case": "stoplogging"}]}}, {"e5"}),
    ({"detail": {"eventSource": [{"suffix": "signin.amazonaws.com"}]}}, {"e4"}),
    ({"detail": {"eventName": [{"wildcard": "*Security*Ingress"}]}}, {"e0", "e1"}),
    ({"detail": {"errorCode": [{"exists": True}]}}, {"e5"}),
    ({"detail": {"eventSource": [{"anything-but": ["ec2.amazonaws.com", "iam.amazonaws.com"]}]}}, {"e4", "e5", "e6"}),
    ({"detail": {"errorCode": [{"anything-but": "Throttling"}]}}, {"e5"}),  # field must exist
    ({"detail": {"requestParameters": {"ipPermissions": {"items": {"fromPort": [{"numeric": [">", 100, "<=", 443]}]}}}}},
     {"e0"}),
    ({"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}}, {"e0", "e1", "e2", "e3", "e6"}),
    ({"detail": {"$or": [{"eventName": ["ConsoleLogin"]}, {"errorCode": ["AccessDenied"]}]}}, {"e4", "e5"}),
    ({"detail": {"requestParameters": {"ipPermissions": {"items": {"ipRanges": {"items": {"cidrIp": ["0.0.0.0/0"]}}}}}}},
     {"e0"}),
]


@pytest.mark.parametrize("pattern,expected", EB_CASES)
def test_eventbridge_semantics_both_engines(con, pattern, expected):
    assert both(con, Rule(id="eb", title="eb", kind="eventbridge", predicate=compile_pattern(pattern))) == expected
