"""SNS-like topics and subscriptions, persisted in the lake at ``notify/topics.json``.

A topic is addressed by its plain name (``oncall``) or an SNS ARN
``arn:aws:sns:<region>:<account>:<name>``; only the name after the last ``:`` counts, so an alarm
action copied from AWS works unchanged. Names: 1–256 of ``A-Z a-z 0-9 _ -`` (``.fifo`` suffix
allowed), as SNS requires.

Subscription protocols:

* ``file`` — append one JSON line per message; a relative endpoint is relative to the lake root.
* ``http`` / ``https`` — POST the SNS envelope as JSON, with SNS's ``x-amz-sns-*`` headers, retried
  with backoff per the subscription's ``DeliveryPolicy``.
* ``stdout`` — print one JSON line.

``RawMessageDelivery`` (default false) delivers only the message body instead of the envelope.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.config import ACCOUNT_ID, REGION
from pipeline.errors import InputError

if TYPE_CHECKING:
    from pipeline.lake import Lake

TOPICS_PATH = "notify/topics.json"
PROTOCOLS = ("file", "http", "https", "stdout")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,251}(?:\.fifo)?$")

DEFAULT_POLICY = {"numRetries": 3, "minDelayTarget": 1.0, "maxDelayTarget": 20.0,
                  "backoffFunction": "exponential", "timeoutSeconds": 5.0, "maxAttempts": 50}
"""HTTP delivery policy (SNS ``healthyRetryPolicy`` names): 3 retries right away with exponential
backoff from 1 s to 20 s; afterwards the message waits in the outbox and is retried by later
deliveries, up to ``maxAttempts`` attempts in all."""


def topic_name(ref: str) -> str:
    """Topic name from a plain name or ``arn:aws:sns:region:account:name``; raises InputError."""
    name = ref.rsplit(":", 1)[-1] if ref.startswith("arn:") else ref
    if ref.startswith("arn:") and not ref.startswith("arn:aws:sns:"):
        raise InputError("not an SNS topic ARN", field="topic", value=ref)
    if not _NAME_RE.match(name):
        raise InputError("topic names are 1-256 letters, digits, _ or - (optional .fifo)",
                         field="topic", value=ref)
    return name


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"


def file_endpoint(endpoint: str, *, allow_absolute: bool) -> str:
    """The checked file endpoint: a relative path normalised and confined to the lake (no ``..``
    that leaves it), an absolute path only when ``allow_absolute`` (setting
    ``notify.allow_absolute_paths``).

    Raises:
        InputError: empty, leaving the lake, or absolute without the setting.
    """
    if not endpoint.strip():
        raise InputError("file subscriptions need a path", field="endpoint")
    if os.path.isabs(endpoint) or endpoint.startswith("~"):
        if not allow_absolute or endpoint.startswith("~"):
            raise InputError("absolute file endpoints are refused unless notify.allow_absolute_paths = true "
                             "(relative paths stay inside the lake)", field="endpoint", value=endpoint)
        return os.path.normpath(endpoint)
    norm = os.path.normpath(endpoint.replace("\\", "/"))
    if norm == "." or norm == ".." or norm.startswith("../") or os.path.isabs(norm):
        raise InputError("file endpoint leaves the lake (relative paths must stay inside it)",
                         field="endpoint", value=endpoint)
    return norm


@dataclass
class Subscription:
    """One subscriber of a topic."""

    protocol: str
    endpoint: str
    raw: bool = False
    policy: dict[str, Any] = field(default_factory=dict)
    arn: str = ""
    absolute_allowed: bool = False  # a file endpoint outside the lake, made with notify.allow_absolute_paths

    def delivery_policy(self) -> dict[str, Any]:
        return {**DEFAULT_POLICY, **self.policy}


@dataclass
class Topic:
    name: str
    subscriptions: list[Subscription] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return topic_arn(self.name)


class TopicStore:
    """Topics of one lake, loaded once; :meth:`save` writes them back atomically."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.topics: dict[str, Topic] = {}
        if lake.exists(TOPICS_PATH):
            for t in lake.read_json(TOPICS_PATH):
                subs = [Subscription(**s) for s in t.get("subscriptions", [])]
                self.topics[t["name"]] = Topic(t["name"], subs)

    def save(self) -> None:
        data = [{"name": t.name, "arn": t.arn, "subscriptions": [asdict(s) for s in t.subscriptions]}
                for t in sorted(self.topics.values(), key=lambda t: t.name)]
        self.lake.write_json(TOPICS_PATH, data)

    def get(self, ref: str) -> Topic | None:
        return self.topics.get(topic_name(ref))

    def create(self, ref: str) -> Topic:
        """Create a topic (idempotent, like SNS CreateTopic)."""
        name = topic_name(ref)
        return self.topics.setdefault(name, Topic(name))

    def delete(self, ref: str) -> bool:
        return self.topics.pop(topic_name(ref), None) is not None

    def subscribe(self, ref: str, protocol: str, endpoint: str = "", *, raw: bool = False,
                  policy: dict[str, Any] | None = None, allow_absolute_paths: bool = False) -> Subscription:
        """Add a subscriber (creating the topic if needed); the same protocol+endpoint is reused.

        A ``file`` endpoint is a path relative to the lake root that must stay inside it; an
        absolute path only with ``allow_absolute_paths`` (setting ``notify.allow_absolute_paths``).
        """
        if protocol not in PROTOCOLS:
            raise InputError(f"protocol must be one of {', '.join(PROTOCOLS)}", field="protocol", value=protocol)
        if protocol in ("http", "https") and not endpoint.startswith(f"{protocol}://"):
            raise InputError(f"{protocol} endpoints are URLs starting with {protocol}://",
                             field="endpoint", value=endpoint)
        if protocol == "file":
            endpoint = file_endpoint(endpoint, allow_absolute=allow_absolute_paths)
        for key in policy or {}:
            if key not in DEFAULT_POLICY:
                raise InputError(f"unknown delivery policy key (known: {', '.join(DEFAULT_POLICY)})",
                                 field="policy", value=key)
        topic = self.create(ref)
        for s in topic.subscriptions:
            if s.protocol == protocol and s.endpoint == endpoint:
                s.raw, s.policy = raw, dict(policy or {})
                return s
        sub = Subscription(protocol, endpoint, raw, dict(policy or {}), f"{topic.arn}:{uuid.uuid4()}",
                           absolute_allowed=protocol == "file" and os.path.isabs(endpoint))
        topic.subscriptions.append(sub)
        return sub

    def unsubscribe(self, arn: str) -> bool:
        for t in self.topics.values():
            for s in list(t.subscriptions):
                if s.arn == arn:
                    t.subscriptions.remove(s)
                    return True
        return False
