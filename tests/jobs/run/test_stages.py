"""Stage semantics of `watchlake run`: what a first start processes, and what a restart resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from jobs.run.stages import DetectStage
from tests.pipeline.detections.ctlake import write_events


def _stop_logging(i: int, t: datetime) -> dict:
    return {"eventVersion": "1.08", "eventID": f"ev-{i}", "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7", "requestParameters": json.dumps({"name": "t"}),
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::123456789012:user/u{i}",
                             "accountId": "123456789012", "userName": f"u{i}"}}


def test_detect_starts_at_the_present_and_a_restart_misses_nothing(lake, settings):
    t0 = datetime.now(UTC) - timedelta(hours=1)
    write_events(lake, [_stop_logging(i, t0) for i in range(3)], origin="history")
    first = DetectStage(lake, settings)
    assert first.step().records_in == 0  # history is `watchlake detect`'s, not the live stage's
    # killed before its next poll; events arrive while it is down; a new process starts
    write_events(lake, [_stop_logging(i, t0 + timedelta(minutes=5)) for i in range(3, 5)], origin="while-down")
    again = DetectStage(lake, settings)
    rep = again.step()
    assert rep.records_in == 2 and rep.records_out >= 1
