"""A believable AWS account for synthetic CloudTrail: principals, their habits and identities.

Humans (IAM users) work office hours on weekdays, sign in to the console with MFA or use the
CLI; machines (EC2 instance roles, Lambda execution roles, CI sessions, AWS services) run around
the clock. Every actor has the ``userIdentity`` block, source IPs and user agents AWS would
record for it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACCOUNT_ID = "111122223333"
PARTNER_ACCOUNT_ID = "444455556666"
HOME_REGION = "us-east-1"
REGIONS = ("us-east-1", "eu-west-1")
GLOBAL_SOURCES = frozenset({"iam.amazonaws.com", "sts.amazonaws.com", "signin.amazonaws.com"})
"""Global-service events are recorded in us-east-1."""

CLI_AGENTS = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/{svc}.{op}",
    "aws-cli/2.17.2 Python/3.11.9 Darwin/23.5.0 exe/x86_64 prompt/off command/{svc}.{op}",
    "Boto3/1.34.90 md/Botocore#1.34.90 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.9",
    "aws-sdk-go-v2/1.30.1 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.0",
    "terraform-provider-aws/5.56.1 (+https://registry.terraform.io) aws-sdk-go-v2/1.30.1",
)
BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.5 Safari/605.1.15")


def new_id(rng: random.Random) -> str:
    """A random (seeded) UUID4 string, as CloudTrail eventID/requestID look."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_B32 = str.maketrans("0189", "WXYZ")


def key_id(rng: random.Random, prefix: str) -> str:
    """An access-key-like id: ``prefix`` + 16 characters of the base32 alphabet (A–Z, 2–7)."""
    return prefix + f"{rng.getrandbits(64):016X}".translate(_B32)


@dataclass
class Actor:
    """One principal and its habits.

    Attributes:
        name: short name used in labels and user agents.
        kind: ``IAMUser`` | ``AssumedRole`` | ``AWSService`` | ``Root``.
        human: follows office hours and signs in to the console.
        weight: share of the account's activity.
        ips: source IPs (humans) — machines use private/NAT IPs or the service name.
        regions: regions it works in, first is its main one.
        habits: ``(weight, api name)`` pairs from :mod:`pipeline.synthetic.catalog`.
        role: for assumed roles, the role name; ``session`` the session name.
        service: for AWSService actors, the service principal (``autoscaling.amazonaws.com``).
        mfa: signs in with MFA.
    """

    name: str
    kind: str
    human: bool
    weight: float
    ips: tuple[str, ...]
    regions: tuple[str, ...]
    habits: tuple[tuple[float, str], ...]
    role: str = ""
    session: str = ""
    service: str = ""
    mfa: bool = True
    agents: tuple[str, ...] = CLI_AGENTS
    principal_id: str = ""
    access_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def identity(self, rng: random.Random, when: datetime, console: bool = False) -> dict[str, Any]:
        """The ``userIdentity`` block for a call made at ``when``."""
        if self.kind == "AWSService":
            return {"type": "AWSService", "invokedBy": self.service}
        if self.kind == "IAMUser":
            ident: dict[str, Any] = {
                "type": "IAMUser", "principalId": self.principal_id,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{self.name}", "accountId": ACCOUNT_ID,
                "accessKeyId": key_id(rng, "ASIA") if console else self.access_key,
                "userName": self.name}
            if console:
                ident["sessionContext"] = {
                    "sessionIssuer": {}, "webIdFederationData": {},
                    "attributes": {"creationDate": when.isoformat()[:14] + "00:00Z",
                                   "mfaAuthenticated": "true" if self.mfa else "false"}}
            return ident
        session = self.session or f"{self.role}-session"
        ident = {
            "type": "AssumedRole", "principalId": f"{self.principal_id}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.role}/{session}",
            "accountId": ACCOUNT_ID, "accessKeyId": key_id(rng, "ASIA"),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": self.principal_id,
                                  "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{self.role}",
                                  "accountId": ACCOUNT_ID, "userName": self.role},
                "webIdFederationData": {},
                "attributes": {"creationDate": when.isoformat()[:14] + "00:00Z",
                               "mfaAuthenticated": "false"}}}
        if self.extra.get("ec2RoleDelivery"):
            ident["sessionContext"]["ec2RoleDelivery"] = self.extra["ec2RoleDelivery"]
        if self.extra.get("invokedBy"):
            ident["invokedBy"] = self.extra["invokedBy"]
        return ident


def _pid(rng: random.Random, prefix: str) -> str:
    return key_id(rng, prefix)[:21]


def build_actors(rng: random.Random) -> list[Actor]:
    """The account's principals (deterministic for the generator's seed)."""
    office = ("198.51.100.23", "198.51.100.24", "198.51.100.41", "203.0.113.77")
    home = ("192.0.2.145", "100.24.17.3", "52.95.110.1")
    users = [
        Actor("alice", "IAMUser", True, 6, office[:2] + home[:1], REGIONS, (
            (5, "iam:ListUsers"), (3, "iam:GetUser"), (3, "iam:ListRoles"), (2, "iam:GetRole"),
            (2, "iam:ListAttachedRolePolicies"), (1, "iam:AttachRolePolicy"), (1, "iam:CreateRole"),
            (4, "ec2:DescribeInstances"), (3, "ec2:DescribeSecurityGroups"),
            (2, "cloudtrail:DescribeTrails"), (2, "cloudtrail:GetTrailStatus"),
            (2, "cloudtrail:LookupEvents"), (1, "s3:ListBuckets"), (1, "s3:GetBucketPolicy"),
            (2, "monitoring:DescribeAlarms"), (1, "monitoring:PutMetricAlarm"),
            (1, "iam:GetUserMissing"), (1, "sts:GetCallerIdentity"))),
        Actor("bob", "IAMUser", True, 8, office[1:3] + home[1:2], REGIONS, (
            (6, "ec2:DescribeInstances"), (3, "ec2:DescribeVolumes"), (2, "ec2:CreateTags"),
            (1, "ec2:RunInstances"), (1, "ec2:TerminateInstances"), (4, "lambda:ListFunctions"),
            (3, "lambda:GetFunction"), (1, "lambda:UpdateFunctionCode"), (4, "logs:DescribeLogGroups"),
            (3, "logs:FilterLogEvents"), (1, "s3:ListBuckets"), (2, "dynamodb:DescribeTable"),
            (2, "sts:GetCallerIdentity"), (1, "iam:ListUsersDenied"), (1, "ssm:GetParameter"),
            (2, "monitoring:GetMetricData"))),
        Actor("carol", "IAMUser", True, 5, office[2:4], (HOME_REGION,), (
            (5, "lambda:ListFunctions"), (3, "lambda:GetFunction"), (4, "logs:DescribeLogGroups"),
            (4, "logs:FilterLogEvents"), (3, "monitoring:GetMetricData"), (2, "dynamodb:DescribeTable"),
            (2, "sqs:GetQueueAttributes"), (1, "sqs:SendMessage"), (1, "s3:ListBuckets"),
            (1, "secretsmanager:GetSecretValue"), (1, "iam:CreateAccessKeyDenied"))),
        Actor("erin", "IAMUser", True, 3, office[3:4] + home[2:3], REGIONS, (
            (4, "cloudtrail:LookupEvents"), (3, "cloudtrail:DescribeTrails"), (3, "iam:ListUsers"),
            (2, "iam:GetAccountAuthorizationDetails"), (3, "s3:GetBucketAcl"), (1, "s3:GetBucketPolicy"),
            (2, "ec2:DescribeSecurityGroups"), (2, "config:DescribeConfigRules"),
            (1, "ec2:ModifyInstanceAttributeDenied"))),
    ]
    for u in users:
        u.principal_id, u.access_key = _pid(rng, "AIDA"), key_id(rng, "AKIA")
    machines = [
        Actor("ci-deploy", "AssumedRole", False, 7, ("52.23.190.14", "52.23.190.15"), (HOME_REGION,), (
            (3, "sts:AssumeRole"), (4, "s3:PutObject"), (3, "s3:GetObject"),
            (3, "cloudformation:DescribeStacks"), (1, "cloudformation:UpdateStack"),
            (2, "lambda:UpdateFunctionCode"), (2, "lambda:GetFunction"), (2, "ecr:GetAuthorizationToken"),
            (2, "ecr:BatchGetImage")), role="ci-deploy", session="github-actions"),
        Actor("app-server", "AssumedRole", False, 22, ("10.0.12.31", "10.0.12.58", "10.0.13.7"),
              (HOME_REGION,), (
            (8, "s3:GetObject"), (4, "s3:PutObject"), (6, "kms:Decrypt"), (3, "kms:GenerateDataKey"),
            (6, "dynamodb:GetItem"), (3, "dynamodb:PutItem"), (4, "sqs:ReceiveMessage"),
            (3, "sqs:DeleteMessage"), (2, "ssm:GetParameter"), (2, "secretsmanager:GetSecretValue"),
            (2, "monitoring:PutMetricData"), (1, "ec2:DescribeInstancesThrottled")),
              role="app-server-role", session="i-0a1b2c3d4e5f60718", extra={"ec2RoleDelivery": "2.0"}),
        Actor("orders-api", "AssumedRole", False, 16, ("3.91.20.113",), (HOME_REGION,), (
            (8, "dynamodb:GetItem"), (6, "dynamodb:PutItem"), (3, "dynamodb:Query"), (4, "kms:Decrypt"),
            (4, "sqs:SendMessage"), (3, "logs:CreateLogStream"), (2, "logs:PutLogEvents"),
            (1, "dynamodb:PutItemDenied")), role="orders-api-lambda-role", session="orders-api"),
        Actor("monitoring", "AssumedRole", False, 6, ("10.0.20.5",), REGIONS, (
            (6, "monitoring:GetMetricData"), (3, "monitoring:DescribeAlarms"),
            (3, "ec2:DescribeInstances"), (2, "logs:DescribeLogGroups"), (2, "cloudtrail:GetTrailStatus"),
            (1, "ec2:DescribeInstancesThrottled")), role="grafana-readonly", session="grafana"),
        Actor("autoscaling", "AWSService", False, 3, ("autoscaling.amazonaws.com",), (HOME_REGION,), (
            (3, "ec2:DescribeInstances"), (1, "ec2:RunInstances"), (1, "ec2:TerminateInstances"),
            (2, "sts:AssumeRoleService")), service="autoscaling.amazonaws.com"),
        Actor("config", "AWSService", False, 3, ("config.amazonaws.com",), REGIONS, (
            (3, "ec2:DescribeSecurityGroups"), (2, "s3:GetBucketAcl"), (2, "iam:GetRole"),
            (2, "sts:AssumeRoleService")), service="config.amazonaws.com"),
    ]
    for m in machines:
        if m.kind == "AssumedRole":
            m.principal_id = _pid(rng, "AROA")
            m.agents = (CLI_AGENTS[2], CLI_AGENTS[3]) if m.name != "ci-deploy" else (CLI_AGENTS[0],)
        else:
            m.agents = (m.service,)
    return users + machines
