"""The live detect follower over a busy principal (the soak's shape: one principal past a rate
rule's limit for the whole hour-long dedup window of its finding): what it holds stops growing
once the finding lists MAX_EVENT_IDS ids, while the finding row counts every event and each poll
that grew it notifies once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from jobs.detect_job import Follower
from pipeline.detections.findings import MAX_EVENT_IDS
from pipeline.detections.rules import load_rules
from pipeline.notify import TopicStore
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import BUSY, write_events

PER_POLL = 1000


def _calls(first: int, n: int, t0: datetime) -> list[dict]:
    """API calls ``first .. first+n-1`` by one principal, 20 a second from ``t0``."""
    return [{"eventVersion": "1.09", "eventID": f"busy-{i:07d}", "eventSource": "s3.amazonaws.com",
             "eventTime": (t0 + timedelta(seconds=i // 20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "eventName": "GetObject", "awsRegion": "us-east-1", "eventType": "AwsApiCall",
             "sourceIPAddress": "198.51.100.7", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/soak"}}
            for i in range(first, first + n)]


def test_a_busy_finding_keeps_the_follower_bounded_and_is_counted_whole(lake, tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "busy.yml").write_text(BUSY)
    store = TopicStore(lake)
    store.subscribe("sec", "file", "notify/sec.jsonl")
    store.save()
    fol = Follower(lake, load_rules(rules_dir).rules, notify_topic="sec")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    sizes = []
    polls = 24  # 24,000 calls in 20 minutes: the finding stays open all along
    for k in range(polls):
        write_events(lake, _calls(k * PER_POLL, PER_POLL, t0), origin=f"poll{k}")
        rep = fol.poll()
        assert rep.events == PER_POLL and len(rep.changed) == 1 and rep.notified == 1
        sizes.append(fol.open.size())
    # the held state after 12 polls equals that after 24: one open finding listing MAX_EVENT_IDS ids
    assert sizes[polls // 2 - 1] == sizes[-1] == {"groups": 1, "open_findings": 1, "window_matches": 0,
                                                  "event_ids": MAX_EVENT_IDS}
    rows = connect(lake, ["findings"]).execute("SELECT event_count, event_ids FROM findings").fetchall()
    assert len(rows) == 1
    count, ids = rows[0]
    assert count == polls * PER_POLL and ids == [f"busy-{i:07d}" for i in range(MAX_EVENT_IDS)]
    msgs = [json.loads(line) for line in (tmp_path / "lake" / "notify" / "sec.jsonl").read_text().splitlines()]
    counts = [json.loads(m["Message"])["event_count"] for m in msgs]
    assert counts == [(k + 1) * PER_POLL for k in range(polls)]  # each growth notified once, in order
    # the notifier remembers the finding once (its highest count sent), not once per growth
    sent = json.loads((tmp_path / "lake" / "notify" / "published.json").read_text())
    assert len(sent) == 1 and next(iter(sent.values())).endswith(f" {polls * PER_POLL}")
