"""Delivery to one subscriber: JSONL file append, HTTP(S) webhook POST with retries, stdout.

:func:`deliver` either returns (delivered) or raises :class:`DeliveryError`; ``retryable`` tells
whether a later attempt may succeed (connection errors, timeouts, HTTP 429 and 5xx) or not (other
4xx: the endpoint refused the message). The webhook makes ``1 + numRetries`` attempts with delays
``min(maxDelayTarget, minDelayTarget × 2^i)`` (exponential; ``linear`` / ``arithmetic`` /
``geometric`` also accepted), like SNS's HTTP retry policy.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeline.errors import InputError, TransientError
from pipeline.notify.topics import Subscription, file_endpoint

if TYPE_CHECKING:
    from pipeline.lake import Lake


class DeliveryError(TransientError):
    """A message could not be delivered to a subscriber."""

    def __init__(self, endpoint: str, reason: str, *, retryable: bool = True, attempts: int = 1):
        self.endpoint, self.reason, self.retryable, self.attempts = endpoint, reason, retryable, attempts
        super().__init__(f"{endpoint}: {reason}")


def backoff_delays(policy: dict[str, Any]) -> list[float]:
    """Delays before each retry under an SNS-style delivery policy."""
    n = int(policy["numRetries"])
    lo, hi = float(policy["minDelayTarget"]), float(policy["maxDelayTarget"])
    fn = policy.get("backoffFunction", "exponential")
    out = []
    for i in range(n):
        if fn == "linear" or fn == "arithmetic":
            d = lo + (hi - lo) * (i / max(1, n - 1))
        elif fn == "geometric":
            d = lo * (3 ** i)
        else:
            d = lo * (2 ** i)
        out.append(min(hi, d))
    return out


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - user-configured endpoint
            resp.read()
    except urllib.error.HTTPError as e:
        retryable = e.code == 429 or e.code >= 500
        raise DeliveryError(url, f"HTTP {e.code}", retryable=retryable) from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DeliveryError(url, f"connection failed: {reason}") from None


def deliver_http(sub: Subscription, body: bytes, headers: dict[str, str], *,
                 sleep: Callable[[float], None] = time.sleep, retries: bool = True) -> int:
    """POST with retries; returns the number of attempts made, or raises DeliveryError."""
    policy = sub.delivery_policy()
    delays = backoff_delays(policy) if retries else []
    attempt = 0
    while True:
        attempt += 1
        try:
            _post(sub.endpoint, body, headers, float(policy["timeoutSeconds"]))
            return attempt
        except DeliveryError as e:
            if not e.retryable or attempt > len(delays):
                e.attempts = attempt
                raise
            sleep(delays[attempt - 1])


def _local_path(lake: Lake, endpoint: str) -> str | None:
    """The local file of a checked file endpoint; None when it is an object of an S3 lake."""
    if os.path.isabs(endpoint):
        return endpoint
    return None if lake.is_s3 else lake.path(endpoint)


def append_line(lake: Lake, endpoint: str, line: str, *, allow_absolute: bool = False) -> None:
    """Append one line to a file: relative paths below the lake root (never outside it), absolute
    paths only when ``allow_absolute`` (the subscription was made with the setting)."""
    try:
        endpoint = file_endpoint(endpoint, allow_absolute=allow_absolute)
    except InputError as exc:
        raise DeliveryError(endpoint, exc.reason, retryable=False) from None
    path = _local_path(lake, endpoint)
    if path is not None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        return
    old = lake.read_bytes(endpoint) if lake.exists(endpoint) else b""
    lake.write_bytes(endpoint, old + line.encode() + b"\n")


TAIL_BYTES = 1 << 20
"""How far back from a file subscriber's end :func:`already_appended` looks (a retried message is
one that a crash interrupted moments ago, or a queued one retried since)."""


def payload_of(sub: Subscription, envelope: dict[str, Any]) -> str:
    """The line or body delivering ``envelope`` to ``sub`` sends: the envelope, or only its Message
    when raw."""
    return str(envelope["Message"]) if sub.raw else json.dumps(envelope, ensure_ascii=False)


def already_appended(lake: Lake, sub: Subscription, envelope: dict[str, Any]) -> bool:
    """True when ``sub`` is a file subscriber whose last :data:`TAIL_BYTES` already hold the
    delivery of ``envelope`` — a line with its ``MessageId`` (one MessageId per message: it is
    derived from the publication's dedup id), or for raw delivery the exact Message line: the
    delivery happened and a crash came before the outbox recorded it. Lets a retry skip it, so a
    file subscriber gets each message once. False for other protocols (SNS's HTTP delivery is at
    least once: a subscriber de-duplicates by ``x-amz-sns-message-id``) and for unreadable files."""
    if sub.protocol != "file":
        return False
    if sub.raw:
        line = (payload_of(sub, envelope) + "\n").encode("utf-8")
    else:
        line = json.dumps({"MessageId": envelope["MessageId"]})[1:-1].encode("utf-8")
    try:
        endpoint = file_endpoint(sub.endpoint, allow_absolute=sub.absolute_allowed)
        path = _local_path(lake, endpoint)
        if path is not None:
            with open(path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - TAIL_BYTES))
                tail = f.read()
        else:
            tail = lake.read_bytes(endpoint)[-TAIL_BYTES:] if lake.exists(endpoint) else b""
    except (OSError, InputError):
        return False
    return (tail.startswith(line) or b"\n" + line in tail) if sub.raw else line in tail


def deliver(lake: Lake, sub: Subscription, envelope: dict[str, Any], *,
            sleep: Callable[[float], None] = time.sleep, retries: bool = True) -> int:
    """Deliver one message (the SNS envelope, or only its Message when raw); returns attempts."""
    payload = payload_of(sub, envelope)
    try:
        if sub.protocol == "file":
            append_line(lake, sub.endpoint, payload, allow_absolute=sub.absolute_allowed)
            return 1
        if sub.protocol == "stdout":
            sys.stdout.write(payload + "\n")
            sys.stdout.flush()
            return 1
    except OSError as e:
        raise DeliveryError(sub.endpoint or sub.protocol, str(e)) from None
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": envelope["Type"],
        "x-amz-sns-message-id": envelope["MessageId"],
        "x-amz-sns-topic-arn": envelope["TopicArn"],
        "x-amz-sns-subscription-arn": sub.arn,
        "User-Agent": "watchlake-sns/1.0",
    }
    if sub.raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    return deliver_http(sub, payload.encode("utf-8"), headers, sleep=sleep, retries=retries)
