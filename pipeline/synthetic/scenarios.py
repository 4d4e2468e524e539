"""Labelled attack scenarios injected into synthetic CloudTrail.

Each scenario returns its events and a label: what was done, by whom, from where, when
(``start`` = first event, ``end`` = last event + 1 s, half-open), the MITRE ATT&CK technique,
and every injected ``eventID``. Scenarios happen on the *attack day* (the last 24 h of the
generated window) at fixed offsets, scaled into shorter windows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.synthetic.account import ACCOUNT_ID, BROWSER, CLI_AGENTS, Actor, key_id
from pipeline.synthetic.catalog import GROUPS, api_call
from pipeline.synthetic.events import assemble, console_login
from pipeline.timeutil import iso

ATTACKER_IP = "185.220.101.47"
ATTACKER_IP_2 = "45.137.21.9"
ATTACKER_AGENT = CLI_AGENTS[0].format(svc="iam", op="list-users").replace("2.15.30", "2.9.1")


@dataclass(frozen=True)
class Scenario:
    name: str
    offset_h: float
    technique_id: str
    technique: str
    description: str
    build: Callable[[random.Random, dict[str, Actor], datetime], list[dict[str, Any]]]


def _call(rng: random.Random, actor: Actor, when: datetime, event_name: str, source: str,
          params: Any, response: Any = None, *, read_only: bool = False, ip: str = ATTACKER_IP,
          error: tuple[str, str] | None = None, region: str = "us-east-1",
          agent: str = ATTACKER_AGENT) -> dict[str, Any]:
    call: dict[str, Any] = {"eventSource": source, "eventName": event_name, "requestParameters": params,
                            "responseElements": response, "readOnly": read_only}
    if error:
        call["errorCode"], call["errorMessage"] = error
        call["responseElements"] = None
    return assemble(rng, actor, when, call, region=region, ip=ip, agent=agent)


def _stop_logging(rng: random.Random, actors: dict[str, Actor], t: datetime) -> list[dict[str, Any]]:
    bob = actors["bob"]
    trail = {"name": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/management-events"}
    return [
        _call(rng, bob, t, "DescribeTrails", "cloudtrail.amazonaws.com", None, read_only=True),
        _call(rng, bob, t + timedelta(seconds=41), "StopLogging", "cloudtrail.amazonaws.com", trail),
        _call(rng, bob, t + timedelta(seconds=163), "DeleteTrail", "cloudtrail.amazonaws.com", trail),
    ]


def _key_for_other_user(rng: random.Random, actors: dict[str, Actor], t: datetime) -> list[dict[str, Any]]:
    bob = actors["bob"]
    resp = {"accessKey": {"accessKeyId": key_id(rng, "AKIA"), "status": "Active", "userName": "alice",
                          "createDate": f"{t.strftime('%b %-d, %Y')}, {t.strftime('%-I:%M:%S %p')}"}}
    return [
        _call(rng, bob, t, "GetUser", "iam.amazonaws.com", {"userName": "alice"}, read_only=True),
        _call(rng, bob, t + timedelta(seconds=12), "ListAccessKeys", "iam.amazonaws.com",
              {"userName": "alice"}, read_only=True),
        _call(rng, bob, t + timedelta(seconds=30), "CreateAccessKey", "iam.amazonaws.com",
              {"userName": "alice"}, resp),
    ]


def _sg_open(rng: random.Random, actors: dict[str, Actor], t: datetime) -> list[dict[str, Any]]:
    bob = actors["bob"]
    params = {"groupId": GROUPS[0], "ipPermissions": {"items": [{
        "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {},
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}
    resp = {"requestId": "x", "_return": True, "securityGroupRuleSet": {"items": [{
        "groupId": GROUPS[0], "isEgress": False, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
        "cidrIpv4": "0.0.0.0/0", "securityGroupRuleId": f"sgr-0{rng.getrandbits(60):015x}"}]}}
    return [
        _call(rng, bob, t, "DescribeSecurityGroups", "ec2.amazonaws.com", {"securityGroupSet": {}},
              read_only=True),
        _call(rng, bob, t + timedelta(seconds=25), "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com",
              params, resp),
    ]


def _login_no_mfa(rng: random.Random, actors: dict[str, Actor], t: datetime) -> list[dict[str, Any]]:
    carol = actors["carol"]
    evs = [console_login(rng, carol, t, ip=ATTACKER_IP_2, mfa_used=False)]
    no_mfa = Actor(**{**carol.__dict__, "mfa": False})
    for i, habit in enumerate(("iam:ListUsers", "s3:ListBuckets", "secretsmanager:GetSecretValue")):
        evs.append(assemble(rng, no_mfa, t + timedelta(seconds=40 + 35 * i), api_call(habit, rng, no_mfa),
                            region="us-east-1", ip=ATTACKER_IP_2, agent=BROWSER, console=True))
    return evs


_RECON = (("iam.amazonaws.com", "ListUsers"), ("iam.amazonaws.com", "ListRoles"),
          ("iam.amazonaws.com", "GetAccountAuthorizationDetails"), ("s3.amazonaws.com", "ListBuckets"),
          ("ec2.amazonaws.com", "DescribeInstances"), ("secretsmanager.amazonaws.com", "ListSecrets"),
          ("kms.amazonaws.com", "ListKeys"), ("lambda.amazonaws.com", "ListFunctions20150331"),
          ("dynamodb.amazonaws.com", "ListTables"), ("rds.amazonaws.com", "DescribeDBInstances"))


def _denied_burst(rng: random.Random, actors: dict[str, Actor], t: datetime) -> list[dict[str, Any]]:
    stolen = actors["app-server"]  # instance-role credentials used from outside AWS
    evs = []
    for i in range(60):
        source, op = _RECON[i % len(_RECON)]
        action = f"{source.split('.')[0]}:{op}"
        msg = (f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/app-server-role/i-0a1b2c3d4e5f60718 is not "
               f"authorized to perform: {action} because no identity-based policy allows the {action} action")
        evs.append(_call(rng, stolen, t + timedelta(seconds=4 * i + rng.randrange(3)), op, source, None,
                         read_only=True, error=("AccessDenied", msg),
                         agent=CLI_AGENTS[1].format(svc=source.split(".")[0], op=op.lower())))
    return evs


def _rate_spike(rng: random.Random, actors: dict[str, Actor], t: datetime) -> list[dict[str, Any]]:
    bob = actors["bob"]
    evs = []
    for i in range(240):
        region = ("us-east-1", "eu-west-1")[i % 2]
        when = t + timedelta(seconds=5 * i + rng.randrange(4))
        call = api_call("ec2:RunInstances", rng, bob)
        call["requestParameters"]["instanceType"] = "p3.16xlarge"
        evs.append(assemble(rng, bob, when, call, region=region, ip=ATTACKER_IP,
                            agent=CLI_AGENTS[2]))
    return evs


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("console_login_without_mfa", 2.78, "T1078.004", "Valid Accounts: Cloud Accounts",
             "carol signs in to the console without MFA from an unknown IP, then browses IAM, S3 and "
             "Secrets Manager", _login_no_mfa),
    Scenario("access_key_for_other_user", 3.17, "T1098.001",
             "Account Manipulation: Additional Cloud Credentials",
             "bob (compromised) creates an access key for alice", _key_for_other_user),
    Scenario("access_denied_burst", 11.33, "T1580", "Cloud Infrastructure Discovery",
             "stolen instance-role credentials enumerate services from one external IP: 60 "
             "AccessDenied calls in 4 minutes", _denied_burst),
    Scenario("security_group_opened_to_world", 14.08, "T1562.007",
             "Impair Defenses: Disable or Modify Cloud Firewall",
             "bob opens SSH (tcp/22) on a security group to 0.0.0.0/0", _sg_open),
    Scenario("api_call_rate_spike", 16.0, "T1496", "Resource Hijacking",
             "bob launches 240 p3.16xlarge instances in 20 minutes (RunInstances rate spike)", _rate_spike),
    Scenario("cloudtrail_stop_logging", 21.5, "T1562.008", "Impair Defenses: Disable Cloud Logs",
             "bob stops the trail and deletes it", _stop_logging),
]}


def inject(names: list[str], rng: random.Random, actors: list[Actor], start: datetime,
           end: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Build the named scenarios in ``[max(start, end - 24 h), end)``; return events and labels."""
    by_name = {a.name: a for a in actors}
    day_start = max(start, end - timedelta(days=1))
    scale = min(1.0, (end - day_start) / timedelta(days=1))
    events: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for name in names:
        sc = SCENARIOS[name]
        t0 = day_start + timedelta(hours=sc.offset_h * scale)
        evs = [e for e in sc.build(rng, by_name, t0) if e["eventTime"] < iso(end)]
        if not evs:
            continue
        times = sorted(e["eventTime"] for e in evs)
        last = datetime.fromisoformat(times[-1].replace("Z", "+00:00")) + timedelta(seconds=1)
        labels.append({"scenario": name, "technique_id": sc.technique_id, "technique": sc.technique,
                       "description": sc.description, "start": times[0], "end": iso(last),
                       "source_ips": sorted({e["sourceIPAddress"] for e in evs}),
                       "event_count": len(evs), "event_ids": [e["eventID"] for e in evs]})
        events.extend(evs)
    return events, labels
