"""Stage semantics of `watchlake run`: what a first start processes, and what a restart resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

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


def test_anomalies_score_a_minute_once_it_has_closed(lake, settings):
    """A minute's average is scored only once a newer minute has landed: scoring the minute that is
    still filling would fix its score before a later point of the same minute arrives (the
    detector never rescores a point), and an anomaly at second 30 would go unreported."""
    import random

    from jobs.anomaly_job import job_key, load_state
    from jobs.run.stages import AnomalyStage, RollupStage
    from pipeline.notify import TopicStore
    from tests.pipeline.rollup.gen import point, write_metrics

    topics = TopicStore(lake)
    topics.subscribe("oncall", "file", "notify/oncall.jsonl")
    topics.save()
    settings.run.anomaly_topic = "oncall"
    rng = random.Random(4)
    m = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)  # minute M, closed by now
    write_metrics(lake, [point(m - timedelta(minutes=k), 20 + rng.gauss(0, 0.3)) for k in range(360, 0, -1)])
    write_metrics(lake, [point(m + timedelta(seconds=5), 20.1), point(m + timedelta(seconds=15), 19.9)])
    rollup, anomalies = RollupStage(lake, settings), AnomalyStage(lake, settings)
    rollup.step()
    assert anomalies.step().notifications == 0
    state = load_state(lake, job_key("context", "metrics_1m", "Average"))
    assert max(v["last"] for v in state.values()) < m.timestamp()  # M is still filling: not scored
    # the rest of minute M (an anomalous point at M + 30 s), then the first point of M + 1
    write_metrics(lake, [point(m + timedelta(seconds=30), 400.0), point(m + timedelta(seconds=65), 20.0)])
    rollup.step()
    rep = anomalies.step()
    msgs = [json.loads(json.loads(line)["Message"]) for line in
            lake.read_bytes("notify/oncall.jsonl").splitlines()]
    assert rep.notifications == 1 and len(msgs) == 1
    assert msgs[0]["StateChangeTime"].startswith(m.strftime("%Y-%m-%dT%H:%M"))
    assert msgs[0]["Value"] == pytest.approx((20.1 + 19.9 + 400.0) / 3)  # the whole minute's Average


def test_detect_does_not_rematch_events_that_compaction_rewrote(lake, settings):
    """Compaction merges a partition's small files into a new file of the same rows; the live
    detect stage must not read those events again (a finding would "grow" to double its count and
    be notified again)."""
    from jobs.run.stages import CompactStage

    stage = DetectStage(lake, settings)
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    user = {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory", "accountId": "123456789012",
            "userName": "mallory"}
    write_events(lake, [{**_stop_logging(1, t0), "userIdentity": user}], origin="first")
    write_events(lake, [{**_stop_logging(2, t0 + timedelta(seconds=5)), "userIdentity": user}], origin="second")
    first = stage.step()
    assert first.records_in == 2 and first.records_out >= 1  # a finding per matching rule, of two events
    assert len(lake.table_files("cloudtrail")) == 2
    assert CompactStage(lake, settings).step().records_out == 1  # 2 files → 1, same rows
    again = stage.step()
    assert (again.records_in, again.records_out) == (0, 0)
    # and a new event after the compaction is read, once
    write_events(lake, [{**_stop_logging(3, t0 + timedelta(seconds=9)), "userIdentity": user}], origin="third")
    third = stage.step()
    assert (third.records_in, third.records_out) == (1, first.records_out)  # each grew by one event


def test_detect_reads_only_the_unprocessed_part_of_a_compaction(tmp_path, lake, settings):
    """Files loaded after the last detect step and compacted before the next one (with files it
    did process) are read from the compaction output — only their rows: an event is matched once,
    and the whole output is never read again (the soak at 22,000 records/s read 1.2 M events back
    into memory this way). Loaded through the real loader, one commit (one file) per event."""
    from jobs.run.stages import CompactStage
    from pipeline.config import LoaderSettings
    from pipeline.loader.ingest import ingest

    stage = DetectStage(lake, settings)
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    user = {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory", "accountId": "123456789012",
            "userName": "mallory"}

    def load(i: int) -> None:
        path = tmp_path / f"ct{i}.json"
        event = {**_stop_logging(i, t0 + timedelta(seconds=i)), "userIdentity": user}
        path.write_text(json.dumps({"Records": [event]}))
        assert ingest(lake, LoaderSettings(), "cloudtrail", [str(path)]).loaded == 1

    load(1), load(2)
    first = stage.step()
    assert first.records_in == 2 and first.records_out >= 1
    for i in (3, 4, 5):  # not seen by detect before the compaction
        load(i)
    assert CompactStage(lake, settings).step().records_in == 5  # 5 files → 1
    assert len(lake.table_files("cloudtrail")) == 1
    second = stage.step()
    assert second.records_in == 3  # the three new events, not the five of the file
    assert second.records_out == first.records_out  # each finding grew once (2 → 5 events)
    assert set(_findings(lake).values()) == {5}
    assert (stage.step().records_in, stage.step().records_out) == (0, 0)


def _findings(lake) -> dict[str, int]:
    """The findings table, each finding's last version."""
    from pipeline.query.duck import connect

    rows = connect(lake, ["findings"]).execute(
        "SELECT finding_id, max(event_count) FROM findings GROUP BY ALL").fetchall()
    return dict(rows)
