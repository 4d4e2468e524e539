"""Assemble complete CloudTrail records in the field order AWS writes them."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from pipeline.synthetic.account import (
    ACCOUNT_ID,
    BROWSER,
    GLOBAL_SOURCES,
    HOME_REGION,
    Actor,
    new_id,
)


def iso(when: datetime) -> str:
    """``2026-11-01T08:14:09Z`` for a whole-second UTC time (fast path of timeutil.iso)."""
    return when.isoformat()[:19] + "Z"

EVENT_VERSION = "1.11"
_TLS = ({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
        {"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256"})


def assemble(rng: random.Random, actor: Actor, when: datetime, call: dict[str, Any], *,
             region: str, ip: str | None = None, agent: str | None = None,
             console: bool = False) -> dict[str, Any]:
    """A full event for ``call`` (from :func:`pipeline.synthetic.catalog.api_call`)."""
    source = call["eventSource"]
    if source in GLOBAL_SOURCES:
        region = HOME_REGION
    if ip is None:
        ip = rng.choice(actor.ips)
    if agent is None:
        if actor.kind == "AWSService":
            agent = actor.service
        elif console:
            agent = "AWS Internal"
        else:
            svc = source.split(".")[0]
            agent = rng.choice(actor.agents).format(svc=svc, op=call["eventName"].lower())
    ev: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": actor.identity(rng, when, console=console),
        "eventTime": iso(when),
        "eventSource": source,
        "eventName": call["eventName"],
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
    }
    if "errorCode" in call:
        ev["errorCode"], ev["errorMessage"] = call["errorCode"], call["errorMessage"]
    ev["requestParameters"] = call.get("requestParameters")
    ev["responseElements"] = call.get("responseElements")
    if "additionalEventData" in call:
        ev["additionalEventData"] = call["additionalEventData"]
    ev["requestID"] = new_id(rng)
    ev["eventID"] = new_id(rng)
    ev["readOnly"] = call["readOnly"]
    if "resources" in call:
        ev["resources"] = call["resources"]
    ev["eventType"] = call.get("eventType", "AwsApiCall")
    ev["managementEvent"] = call.get("managementEvent", True)
    ev["recipientAccountId"] = ACCOUNT_ID
    if actor.kind == "AWSService":
        ev["sharedEventID"] = new_id(rng)
    ev["eventCategory"] = call.get("eventCategory", "Management")
    if actor.kind != "AWSService":
        host = source if source in GLOBAL_SOURCES else source.replace(".amazonaws.com", f".{region}.amazonaws.com")
        ev["tlsDetails"] = {**rng.choice(_TLS), "clientProvidedHostHeader": host}
    if console:
        ev["sessionCredentialFromConsole"] = "true"
    return ev


def console_login(rng: random.Random, actor: Actor, when: datetime, *, ip: str | None = None,
                  mfa_used: bool = True, success: bool = True) -> dict[str, Any]:
    """A ``ConsoleLogin`` sign-in event (success or ``Failed authentication``)."""
    ident: dict[str, Any] = {"type": "IAMUser", "principalId": actor.principal_id,
                             "accountId": ACCOUNT_ID, "accessKeyId": "", "userName": actor.name}
    if success:
        ident["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:user/{actor.name}"
    ev: dict[str, Any] = {
        "eventVersion": "1.09", "userIdentity": ident, "eventTime": iso(when),
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": HOME_REGION,
        "sourceIPAddress": ip or rng.choice(actor.ips), "userAgent": BROWSER,
    }
    if not success:
        ev["errorMessage"] = "Failed authentication"
    ev["requestParameters"] = None
    ev["responseElements"] = {"ConsoleLogin": "Success" if success else "Failure"}
    extra = {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
             "MobileVersion": "No", "MFAUsed": "Yes" if (mfa_used and success) else "No"}
    if mfa_used and success:
        extra["MFAIdentifier"] = f"arn:aws:iam::{ACCOUNT_ID}:mfa/{actor.name}"
    ev["additionalEventData"] = extra
    ev["eventID"] = new_id(rng)
    ev["readOnly"] = False
    ev["eventType"] = "AwsConsoleSignIn"
    ev["managementEvent"] = True
    ev["recipientAccountId"] = ACCOUNT_ID
    ev["eventCategory"] = "Management"
    ev["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                        "clientProvidedHostHeader": "signin.aws.amazon.com"}
    return ev
