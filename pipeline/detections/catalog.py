"""Which eventSource / eventName pairs exist in CloudTrail, from botocore's service models.

Every AWS API call CloudTrail records is an operation of a service model that ships with
botocore (installed with boto3): the event source is ``<endpointPrefix>.amazonaws.com`` (some
services log under their signing name instead, e.g. SES logs ``ses.amazonaws.com`` while its
endpoint prefix is ``email``, so both are accepted) and the event name is the operation name;
Lambda appends its API version (``UpdateFunctionConfiguration20150331v2``). Console sign-in
events (``signin.amazonaws.com``) and a few CloudTrail-only names are added by hand from the
CloudTrail User Guide. The catalogue is a lower bound of reality: a name missing from it is
reported as "not in the catalogue", which is a strong hint (a typo, a console-only action,
an internal API), not a proof.
"""

from __future__ import annotations

import gzip
import os
import re
from functools import lru_cache

import orjson

SIGNIN = {"ConsoleLogin", "GetSigninToken", "CheckMfa", "SwitchRole", "RenewRole", "ExternalIdPDirectoryLogin",
          "UserAuthentication", "CredentialChallenge", "CredentialVerification", "PasswordUpdated",
          "PasswordRecoveryRequested", "PasswordRecoveryCompleted", "ConsoleLogout"}
EXTRA = {"signin.amazonaws.com": SIGNIN,
         "sts.amazonaws.com": {"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"},
         # S3 bucket-level events whose CloudTrail name differs from the API operation
         "s3.amazonaws.com": {"ReplicateObject", "GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock",
                              "DeleteBucketPublicAccessBlock"}}
_LAMBDA_VERSION = re.compile(r"^(?P<op>[A-Za-z]+?)(?:\d{8}(?:v\d+)?)$")


@lru_cache(maxsize=1)
def catalog() -> dict[str, frozenset[str]]:
    """``{eventSource: {eventName, …}}`` for every service botocore knows (about 1 s, cached)."""
    import botocore

    base = os.path.join(os.path.dirname(botocore.__file__), "data")
    out: dict[str, set[str]] = {}
    for svc in sorted(os.listdir(base)):
        folder = os.path.join(base, svc)
        if not os.path.isdir(folder):
            continue
        for version in sorted(os.listdir(folder), reverse=True):
            p = os.path.join(folder, version, "service-2.json")
            if os.path.exists(p + ".gz"):
                with gzip.open(p + ".gz") as fh:
                    model = orjson.loads(fh.read())
            elif os.path.exists(p):
                with open(p, "rb") as fh:
                    model = orjson.loads(fh.read())
            else:
                continue
            meta = model.get("metadata", {})
            ops = set(model.get("operations", {}))
            for prefix in {meta.get("endpointPrefix"), meta.get("signingName")} - {None}:
                out.setdefault(f"{prefix}.amazonaws.com", set()).update(ops)
            break
    for src, names in EXTRA.items():
        out.setdefault(src, set()).update(names)
    return {k: frozenset(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def catalog_lower() -> dict[str, frozenset[str]]:
    """:func:`catalog` with lower-case event names (for case-insensitive rule values)."""
    return {src: frozenset(n.lower() for n in names) for src, names in catalog().items()}


@lru_cache(maxsize=1)
def _index() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for src, names in catalog_lower().items():
        for n in names:
            out.setdefault(n, []).append(src)
    return out


def known_name(names: frozenset[str], event_name: str) -> bool:
    if event_name in names:
        return True
    m = _LAMBDA_VERSION.match(event_name)
    return bool(m and m.group("op") in names)


def sources_with(event_name: str) -> list[str]:
    """Event sources whose models have ``event_name`` (case-insensitive)."""
    return sorted(_index().get(event_name.lower(), []))
