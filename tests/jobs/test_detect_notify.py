"""Finding notifications: a huge finding still fits SNS's 256 KiB, and a finding that cannot be
published never stops detection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from jobs.detect_job import MAX_NOTIFIED_EVENT_IDS, Follower
from pipeline.detections.rules import BUNDLED, load_rules
from pipeline.notify import TopicStore
from tests.pipeline.detections.ctlake import write_events


def _stop_logging(i: int, t: datetime) -> dict:
    return {"eventVersion": "1.08", "eventID": f"00000000-0000-4000-8000-{i:012d}",
            "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "cloudtrail.amazonaws.com",
            "eventName": "StopLogging", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
            "requestParameters": json.dumps({"name": "t"}),
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory",
                             "accountId": "123456789012", "userName": "mallory"}}


def test_a_finding_over_many_events_is_notified_with_its_ids_capped(lake, tmp_path):
    store = TopicStore(lake)
    store.subscribe("sec", "file", "notify/sec.jsonl")
    store.save()
    t0 = datetime.now(UTC) - timedelta(hours=2)
    fol = Follower(lake, load_rules(str(BUNDLED)).rules, notify_topic="sec")
    write_events(lake, [_stop_logging(i, t0 + timedelta(seconds=i)) for i in range(20_000)])
    rep = fol.poll()
    assert rep.notify_errors == [] and rep.notified >= 1
    msgs = [json.loads(json.loads(line)["Message"]) for line in
            (tmp_path / "lake" / "notify" / "sec.jsonl").read_text().splitlines()]
    big = max(msgs, key=lambda m: m["event_count"])
    assert big["event_count"] > MAX_NOTIFIED_EVENT_IDS and len(big["event_ids"]) == MAX_NOTIFIED_EVENT_IDS
    assert big["event_ids_truncated"] is True


def test_an_unpublishable_finding_does_not_stop_detection(lake):
    t0 = datetime.now(UTC) - timedelta(hours=2)
    fol = Follower(lake, load_rules(str(BUNDLED)).rules, notify_topic="no-such-topic")
    write_events(lake, [_stop_logging(i, t0) for i in range(3)])
    rep = fol.poll()
    assert rep.changed and rep.notified == 0
    assert rep.notify_errors and "topic does not exist" in rep.notify_errors[0]
    write_events(lake, [_stop_logging(i, t0 + timedelta(minutes=1)) for i in range(3, 5)], origin="more")
    assert fol.poll().events == 2  # the checkpoint moved on: nothing re-read, nothing stuck
