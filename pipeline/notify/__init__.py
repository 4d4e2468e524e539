"""SNS-like notifications: topics fan a message out to every subscriber.

Public API (reuse it to send anything through a topic)::

    from pipeline.notify import publish
    result = publish(lake, "oncall", "ALARM: \\"cpu-high\\" in US East (N. Virginia)", {"AlarmName": …})

or, for many messages, one :class:`Notifier` (topics and outbox loaded once)::

    with Notifier(lake) as n:
        n.publish("oncall", subject, message)

Guarantees:

* every subscriber of the topic gets the message; a failing subscriber never blocks the others;
* an undelivered message is kept in the lake's outbox (``notify/outbox.json``) and retried by the
  next :class:`Notifier` (any later publish, ``watchlake topics retry``, the alarm job), up to
  ``maxAttempts`` attempts; a message refused with a non-retryable HTTP 4xx, or out of attempts, is
  moved to ``notify/dead_letter.jsonl`` with its last error;
* once a webhook has failed all its immediate retries in a session, further messages to it in that
  session go straight to the outbox (so a dead endpoint cannot stall an alarm replay);
* a message published with a ``dedup_id`` (a stable id of what it reports: an alarm transition, a
  finding's state, an anomaly episode) is sent at most once per lake, whichever process or
  restart publishes it again: its ``MessageId`` is derived from the id, it is written ahead into
  the outbox before the first delivery attempt, and the id is remembered (``notify/published.json``,
  14 days) — a crash between publishing and a job's checkpoint therefore never sends it twice, and a
  crash mid-delivery leaves it in the outbox for the next retry;
* a message about something that grows (a finding and its event count) passes ``dedup_seq`` too:
  ``dedup_id`` then names the thing and the message is sent only when ``dedup_seq`` is higher than
  every one sent for it, and the record keeps one entry per ``dedup_id`` (its highest ``dedup_seq``)
  instead of one per message — a finding that grows every second adds nothing to it;
* the envelope is SNS's (``Type``, ``MessageId``, ``TopicArn``, ``Subject``, ``Message`` — the JSON
  text of ``message`` —, ``Timestamp``, ``SignatureVersion``, ``UnsubscribeURL``,
  ``MessageAttributes``); ``Subject`` is < 100 characters without line breaks; the body is limited
  to 256 KiB.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pipeline.errors import InputError
from pipeline.notify.delivery import DeliveryError, already_appended, append_line, deliver
from pipeline.notify.topics import Subscription, Topic, TopicStore, topic_arn, topic_name
from pipeline.timeutil import iso, to_utc, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from pipeline.lake import Lake

__all__ = ["Notifier", "PublishResult", "publish", "TopicStore", "Topic", "Subscription",
           "DeliveryError", "topic_name", "topic_arn", "OUTBOX_PATH", "DEAD_LETTER_PATH"]

OUTBOX_PATH = "notify/outbox.json"
PUBLISHED_PATH = "notify/published.json"
PUBLISHED_DAYS = 14
OUTBOX_MAX_DELAY = 60.0
DEAD_LETTER_PATH = "notify/dead_letter.jsonl"
MAX_MESSAGE_BYTES = 262_144


@dataclass
class PublishResult:
    """Outcome of one publish: the message id and how many subscribers got it now."""

    message_id: str
    topic: str
    duplicate: bool = False
    """The ``dedup_id`` was published before: nothing was sent."""
    delivered: int = 0
    queued: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


class Notifier:
    """Publishes to topics of one lake; use as a context manager so the outbox is saved."""

    def __init__(self, lake: Lake, *, sleep: Callable[[float], None] = time.sleep,
                 retry_pending: bool = True):
        self.lake, self.sleep = lake, sleep
        self.store = TopicStore(lake)
        self.outbox: list[dict[str, Any]] = lake.read_json(OUTBOX_PATH) if lake.exists(OUTBOX_PATH) else []
        self._outbox_dirty = False
        self._broken: set[str] = set()
        self._published: dict[str, str] | None = None
        self.stats = {"published": 0, "delivered": 0, "queued": 0, "dead": 0, "retried_ok": 0}
        if retry_pending and self.outbox:
            self.retry_outbox()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._outbox_dirty:
            self.lake.write_json(OUTBOX_PATH, self.outbox)
            self._outbox_dirty = False

    def published(self) -> dict[str, str]:
        """``{dedup_id: when}`` of the messages published with a dedup id (last 14 days); for a
        ``dedup_seq`` publication the value is ``"<when> <highest dedup_seq sent>"``."""
        if self._published is None:
            doc = self.lake.read_json(PUBLISHED_PATH) if self.lake.exists(PUBLISHED_PATH) else {}
            horizon = iso(utcnow() - timedelta(days=PUBLISHED_DAYS))
            self._published = {k: v for k, v in doc.items() if v >= horizon}
        return self._published

    def publish(self, topic: str, subject: str | None, message: dict[str, Any] | str, *,
                attributes: dict[str, str] | None = None, at: datetime | None = None,
                dedup_id: str | None = None, dedup_seq: int | None = None) -> PublishResult:
        """Send ``message`` (a dict is sent as its JSON text) to every subscriber of ``topic``;
        with ``dedup_id``, at most once per lake; with ``dedup_seq`` too, only when it is higher
        than every ``dedup_seq`` sent for ``dedup_id`` (see the module docstring).

        Raises:
            InputError: unknown topic, bad subject, or a body above 256 KiB.
        """
        t = self.store.get(topic)
        if t is None:
            raise InputError("topic does not exist (create it with `watchlake topics create`)",
                             field="topic", value=topic)
        if subject is not None and (len(subject) >= 100 or "\n" in subject or "\r" in subject):
            raise InputError("Subject must be under 100 characters without line breaks",
                             field="Subject", value=subject)
        body = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise InputError("message body exceeds 256 KiB", field="Message", value=len(body))
        message_key: str | None
        if dedup_id is not None and dedup_seq is not None:
            message_key = f"{dedup_id}:{dedup_seq}"  # the MessageId an unversioned id of this form had
            sent = self.published().get(dedup_id, "")
            seen = (message_key in self.published()  # recorded before versioned ids
                    or (" " in sent and dedup_seq <= int(sent.rsplit(" ", 1)[1])))
        else:
            message_key, seen = dedup_id, dedup_id is not None and dedup_id in self.published()
        mid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"watchlake:{t.arn}:{message_key}")) if dedup_id else str(uuid.uuid4())
        if dedup_id is not None and (seen or any(i["envelope"]["MessageId"] == mid for i in self.outbox)):
            return PublishResult(mid, t.name, duplicate=True)
        stamp = to_utc(at) if at is not None else utcnow()
        envelope = {
            "Type": "Notification", "MessageId": mid, "TopicArn": t.arn, "Subject": subject,
            "Message": body,
            "Timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "SignatureVersion": "1", "Signature": "", "SigningCertURL": "",
            "UnsubscribeURL": "",
            "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in (attributes or {}).items()},
        }
        result = PublishResult(mid, t.name)
        self.stats["published"] += 1
        envelopes = [(sub, dict(envelope, UnsubscribeURL=f"watchlake topics unsubscribe {sub.arn}"))
                     for sub in t.subscriptions]
        if dedup_id is None:
            for sub, env in envelopes:
                self._send(sub, env, result)
            return result
        # write ahead: from here on a crash leaves the message in the outbox (retried), never sent twice
        ahead = [{"subscription": sub.arn, "envelope": env, "attempts": 0, "last_error": "not sent yet",
                  "queued_at": iso(utcnow())} for sub, env in envelopes]
        self.outbox.extend(ahead)
        self.lake.write_json(OUTBOX_PATH, self.outbox)
        self.published()[dedup_id] = iso(utcnow()) if dedup_seq is None else f"{iso(utcnow())} {dedup_seq}"
        self.lake.write_json(PUBLISHED_PATH, self.published())
        for (sub, env), item in zip(envelopes, ahead):
            self._send(sub, env, result)
            self.outbox = [i for i in self.outbox if i is not item]
            self.lake.write_json(OUTBOX_PATH, self.outbox)
        return result

    def _send(self, sub: Subscription, envelope: dict[str, Any], result: PublishResult) -> None:
        if sub.arn in self._broken:
            self._queue(sub, envelope, "endpoint failed earlier in this session", 0)
            result.queued += 1
            self.stats["queued"] += 1
            return
        try:
            deliver(self.lake, sub, envelope, sleep=self.sleep)
            result.delivered += 1
            self.stats["delivered"] += 1
        except DeliveryError as e:
            result.errors.append(str(e))
            if e.retryable:
                self._broken.add(sub.arn)
                self._queue(sub, envelope, e.reason, e.attempts)
                result.queued += 1
                self.stats["queued"] += 1
            else:
                self._dead({"subscription": sub.arn, "envelope": envelope, "attempts": e.attempts,
                            "last_error": e.reason})
                result.dead += 1

    def _queue(self, sub: Subscription, envelope: dict[str, Any], reason: str, attempts: int) -> None:
        now = utcnow()
        self.outbox.append({"subscription": sub.arn, "envelope": envelope, "attempts": attempts,
                            "last_error": reason, "queued_at": iso(now),
                            "next_attempt": iso(now + timedelta(seconds=outbox_delay(attempts)))})
        self._outbox_dirty = True

    def _dead(self, item: dict[str, Any]) -> None:
        self.stats["dead"] += 1
        append_line(self.lake, DEAD_LETTER_PATH, json.dumps(item, ensure_ascii=False))

    def retry_outbox(self, *, force: bool = False) -> dict[str, int]:
        """Try each queued message that is due once (every one with ``force``); no inline backoff.
        A message that fails again waits ``min(60 s, 2^attempts s)`` before its next try, so the
        default 50 attempts span about 45 minutes of a subscriber being down. Returns counts
        delivered / left / dead."""
        subs = {s.arn: s for t in self.store.topics.values() for s in t.subscriptions}
        left: list[dict[str, Any]] = []
        counts = {"delivered": 0, "left": 0, "dead": 0}
        now = utcnow()
        for item in self.outbox:
            sub = subs.get(item["subscription"])
            if sub is None:  # unsubscribed since: SNS drops it
                counts["dead"] += 1
                self._dead({**item, "last_error": "subscription no longer exists"})
                continue
            if sub.arn in self._broken or (not force and item.get("next_attempt", "") > iso(now)):
                left.append(item)
                continue
            if already_appended(self.lake, sub, item["envelope"]):
                counts["delivered"] += 1  # delivered before a crash that kept it in the outbox
                continue
            try:
                deliver(self.lake, sub, item["envelope"], sleep=self.sleep, retries=False)
                counts["delivered"] += 1
                self.stats["retried_ok"] += 1
            except DeliveryError as e:
                item = {**item, "attempts": item["attempts"] + 1, "last_error": e.reason,
                        "next_attempt": iso(now + timedelta(seconds=outbox_delay(item["attempts"] + 1)))}
                if not e.retryable or item["attempts"] >= int(sub.delivery_policy()["maxAttempts"]):
                    counts["dead"] += 1
                    self._dead(item)
                else:
                    self._broken.add(sub.arn)
                    left.append(item)
        counts["left"] = len(left)
        if left != self.outbox:
            self.outbox = left
            self._outbox_dirty = True
        return counts


def outbox_delay(attempts: int) -> float:
    """Seconds before the next try of a message that has failed ``attempts`` times."""
    return float(min(OUTBOX_MAX_DELAY, 2 ** min(attempts, 16)))


def publish(lake: Lake, topic: str, subject: str | None, message: dict[str, Any] | str, *,
            attributes: dict[str, str] | None = None) -> PublishResult:
    """Publish one message to ``topic`` (name or SNS ARN); see the module docstring."""
    with Notifier(lake) as n:
        return n.publish(topic, subject, message, attributes=attributes)
