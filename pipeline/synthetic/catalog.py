"""The API calls synthetic actors make: eventSource, eventName, read/write, payload shapes.

A habit name is ``service:Operation`` optionally followed by a variant suffix:
``Denied`` (AccessDenied), ``Throttled`` (throttling error), ``Missing`` (NoSuchEntity) or
``Service`` (the call as an AWS service makes it). :func:`api_call` turns a habit into the
event fields that depend on the call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from pipeline.synthetic.account import ACCOUNT_ID, Actor, key_id, new_id

BUCKETS = (f"orders-data-{ACCOUNT_ID}", f"ci-artifacts-{ACCOUNT_ID}", f"static-site-{ACCOUNT_ID}")
TABLES = ("orders", "sessions", "inventory")
FUNCTIONS = ("orders-api", "ingest", "thumbnailer")
INSTANCES = ("i-0a1b2c3d4e5f60718", "i-0b2c3d4e5f6071829", "i-0c3d4e5f607182930")
GROUPS = ("sg-0a11b22c33d44e55f", "sg-0f66e77d88c99b00a")
QUEUE = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/orders-queue"
ROLES = ("app-server-role", "orders-api-lambda-role", "ci-deploy", "grafana-readonly")
USERS = ("alice", "bob", "carol", "erin")

SERVICE_SOURCE = {"monitoring": "monitoring.amazonaws.com", "signin": "signin.amazonaws.com"}

Params = Callable[[random.Random, Actor], dict[str, Any] | None]


def _none(rng: random.Random, a: Actor) -> dict[str, Any] | None:
    return None


def _obj(rng: random.Random, a: Actor) -> dict[str, Any]:
    b = BUCKETS[0] if a.name != "ci-deploy" else BUCKETS[1]
    return {"bucketName": b, "Host": f"{b}.s3.us-east-1.amazonaws.com",
            "key": f"{rng.choice(('orders', 'invoices', 'builds'))}/{rng.randrange(10**6):06d}.json"}


def _table(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"tableName": rng.choice(TABLES), "key": {"pk": {"S": f"id#{rng.randrange(10**5)}"}}}


def _fn(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"functionName": rng.choice(FUNCTIONS)}


def _kms(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "keyId": f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"}


def _role(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"roleName": rng.choice(ROLES)}


def _user(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"userName": rng.choice(USERS)}


def _assume(rng: random.Random, a: Actor) -> dict[str, Any]:
    role = "ci-deploy" if a.kind != "AWSService" else rng.choice(ROLES)
    return {"roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role}", "roleSessionName": a.session or a.name,
            "durationSeconds": 3600}


def _describe(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"instancesSet": {}, "filterSet": {}, "maxResults": 1000}


def _sgs(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}


def _run(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]},
            "instanceType": rng.choice(("t3.micro", "t3.small", "m6i.large")),
            "blockDeviceMapping": {}, "monitoring": {"enabled": False}, "disableApiTermination": False}


def _inst(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"instancesSet": {"items": [{"instanceId": rng.choice(INSTANCES)}]}}


def _logs(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"logGroupName": f"/aws/lambda/{rng.choice(FUNCTIONS)}"}


def _queue(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"queueUrl": QUEUE}


def _param(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"name": rng.choice(("/orders/db-host", "/orders/feature-flags", "/shared/api-url")),
            "withDecryption": True}


def _secret(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"secretId": "orders/db-password"}


def _metric(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"namespace": "Orders", "metricData": [{"metricName": "OrdersPlaced", "unit": "Count"}]}


def _stack(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"stackName": rng.choice(("orders-prod", "network-base"))}


def _trail(rng: random.Random, a: Actor) -> dict[str, Any]:
    return {"name": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/management-events"}


def _bucket(rng: random.Random, a: Actor) -> dict[str, Any]:
    b = rng.choice(BUCKETS)
    return {"bucketName": b, "Host": f"{b}.s3.amazonaws.com", "policy": ""}


# habit → (eventSource service, readOnly, data event?, request parameters)
SPECS: dict[str, tuple[str, bool, bool, Params]] = {
    "iam:ListUsers": ("iam", True, False, _none), "iam:GetUser": ("iam", True, False, _user),
    "iam:ListRoles": ("iam", True, False, _none), "iam:GetRole": ("iam", True, False, _role),
    "iam:ListAttachedRolePolicies": ("iam", True, False, _role),
    "iam:AttachRolePolicy": ("iam", False, False, lambda r, a: {
        **_role(r, a), "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
    "iam:CreateRole": ("iam", False, False, lambda r, a: {
        "roleName": f"svc-{r.randrange(1000):03d}", "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\"}"}),
    "iam:GetAccountAuthorizationDetails": ("iam", True, False, _none),
    "iam:CreateAccessKey": ("iam", False, False, _user),
    "ec2:DescribeInstances": ("ec2", True, False, _describe), "ec2:DescribeVolumes": ("ec2", True, False, _none),
    "ec2:DescribeSecurityGroups": ("ec2", True, False, _sgs),
    "ec2:CreateTags": ("ec2", False, False, lambda r, a: {
        "resourcesSet": {"items": [{"resourceId": r.choice(INSTANCES)}]},
        "tagSet": {"items": [{"key": "team", "value": "orders"}]}}),
    "ec2:RunInstances": ("ec2", False, False, _run), "ec2:TerminateInstances": ("ec2", False, False, _inst),
    "ec2:ModifyInstanceAttribute": ("ec2", False, False, _inst),
    "lambda:ListFunctions": ("lambda", True, False, _none), "lambda:GetFunction": ("lambda", True, False, _fn),
    "lambda:UpdateFunctionCode": ("lambda", False, False, _fn),
    "logs:DescribeLogGroups": ("logs", True, False, _none), "logs:FilterLogEvents": ("logs", True, False, _logs),
    "logs:CreateLogStream": ("logs", False, False, _logs), "logs:PutLogEvents": ("logs", False, True, _logs),
    "s3:ListBuckets": ("s3", True, False, _none), "s3:GetBucketPolicy": ("s3", True, False, _bucket),
    "s3:GetBucketAcl": ("s3", True, False, _bucket), "s3:GetObject": ("s3", True, True, _obj),
    "s3:PutObject": ("s3", False, True, _obj),
    "dynamodb:DescribeTable": ("dynamodb", True, False, lambda r, a: {"tableName": r.choice(TABLES)}),
    "dynamodb:GetItem": ("dynamodb", True, True, _table), "dynamodb:PutItem": ("dynamodb", False, True, _table),
    "dynamodb:Query": ("dynamodb", True, True, lambda r, a: {"tableName": r.choice(TABLES)}),
    "kms:Decrypt": ("kms", True, False, _kms), "kms:GenerateDataKey": ("kms", True, False, _kms),
    "sqs:GetQueueAttributes": ("sqs", True, False, _queue), "sqs:SendMessage": ("sqs", False, True, _queue),
    "sqs:ReceiveMessage": ("sqs", True, True, _queue), "sqs:DeleteMessage": ("sqs", False, True, _queue),
    "ssm:GetParameter": ("ssm", True, False, _param),
    "secretsmanager:GetSecretValue": ("secretsmanager", True, False, _secret),
    "monitoring:GetMetricData": ("monitoring", True, False, lambda r, a: {
        "startTime": "", "endTime": "", "metricDataQueries": [{"id": "m1"}]}),
    "monitoring:DescribeAlarms": ("monitoring", True, False, _none),
    "monitoring:PutMetricData": ("monitoring", False, False, _metric),
    "monitoring:PutMetricAlarm": ("monitoring", False, False, lambda r, a: {"alarmName": "orders-5xx"}),
    "cloudtrail:DescribeTrails": ("cloudtrail", True, False, _none),
    "cloudtrail:GetTrailStatus": ("cloudtrail", True, False, _trail),
    "cloudtrail:LookupEvents": ("cloudtrail", True, False, lambda r, a: {"maxResults": 50}),
    "cloudtrail:StopLogging": ("cloudtrail", False, False, _trail),
    "cloudtrail:DeleteTrail": ("cloudtrail", False, False, _trail),
    "cloudformation:DescribeStacks": ("cloudformation", True, False, _stack),
    "cloudformation:UpdateStack": ("cloudformation", False, False, _stack),
    "ecr:GetAuthorizationToken": ("ecr", True, False, _none),
    "ecr:BatchGetImage": ("ecr", True, False, lambda r, a: {"repositoryName": "orders-api"}),
    "sts:GetCallerIdentity": ("sts", True, False, _none), "sts:AssumeRole": ("sts", True, False, _assume),
    "config:DescribeConfigRules": ("config", True, False, _none),
}

ERRORS = {
    "Denied": ("AccessDenied", "User: {arn} is not authorized to perform: {action} because no "
               "identity-based policy allows the {action} action"),
    "Throttled": ("Client.RequestLimitExceeded", "Request limit exceeded."),
    "Missing": ("NoSuchEntity", "The user with name ghost cannot be found."),
}


def split_habit(habit: str) -> tuple[str, str]:
    """``"iam:ListUsersDenied"`` → ``("iam:ListUsers", "Denied")``."""
    for suffix in (*ERRORS, "Service"):
        if habit.endswith(suffix) and habit[: -len(suffix)] in SPECS:
            return habit[: -len(suffix)], suffix
    return habit, ""


def _response(api: str, rng: random.Random, actor: Actor, params: dict[str, Any] | None) -> Any:
    op = api.split(":")[1]
    if op == "AssumeRole" and params:
        role = params["roleArn"].rsplit("/", 1)[1]
        return {"credentials": {"accessKeyId": key_id(rng, "ASIA"), "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
                                "expiration": "Nov 1, 2026, 1:00:00 AM"},
                "assumedRoleUser": {"assumedRoleId": f"AROAEXAMPLE:{params['roleSessionName']}",
                                    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/"
                                           f"{params['roleSessionName']}"}}
    if op == "RunInstances":
        return {"instancesSet": {"items": [{"instanceId": f"i-0{rng.getrandbits(60):015x}",
                                            "instanceState": {"code": 0, "name": "pending"}}]}}
    if op == "CreateAccessKey" and params:
        return {"accessKey": {"accessKeyId": key_id(rng, "AKIA"), "status": "Active",
                              "userName": params["userName"]}}
    if op in ("StopLogging", "DeleteTrail", "AttachRolePolicy", "CreateTags"):
        return None if op != "CreateTags" else {"_return": True}
    if op in ("PutItem", "SendMessage", "PutObject", "UpdateStack", "CreateRole", "PutMetricAlarm"):
        return {"requestId": new_id(rng)} if op != "PutObject" else {"x-amz-server-side-encryption": "AES256"}
    return None


def api_call(habit: str, rng: random.Random, actor: Actor) -> dict[str, Any]:
    """The call-specific event fields of ``habit`` made by ``actor``."""
    api, variant = split_habit(habit)
    service, read_only, data, params_fn = SPECS[api]
    op = api.split(":")[1]
    params = params_fn(rng, actor)
    ev: dict[str, Any] = {
        "eventSource": SERVICE_SOURCE.get(service, f"{service}.amazonaws.com"), "eventName": op,
        "requestParameters": params, "readOnly": read_only,
        "eventType": "AwsApiCall", "managementEvent": not data,
        "eventCategory": "Data" if data else "Management",
    }
    if variant in ERRORS:
        code, msg = ERRORS[variant]
        arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{actor.name}" if actor.kind == "IAMUser" else actor.role
        ev["errorCode"], ev["errorMessage"] = code, msg.format(arn=arn, action=api)
        ev["responseElements"] = None
    else:
        ev["responseElements"] = None if read_only and op != "AssumeRole" else _response(api, rng, actor, params)
    if data and params and "bucketName" in params:
        ev["resources"] = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{params['bucketName']}/{params['key']}"},
                           {"accountId": ACCOUNT_ID, "type": "AWS::S3::Bucket",
                            "ARN": f"arn:aws:s3:::{params['bucketName']}"}]
        ev["additionalEventData"] = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                     "bytesTransferredIn": 0 if read_only else rng.randrange(200, 90_000),
                                     "AuthenticationMethod": "AuthHeader", "x-amz-id-2": "EXAMPLE"}
    return ev
