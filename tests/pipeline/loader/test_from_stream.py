from __future__ import annotations

import json
import os

import pytest

from jobs.cli import main
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.query.duck import connect


@pytest.fixture
def env(settings: Settings, monkeypatch):
    monkeypatch.setenv("WATCHLAKE__STREAM__ROOT", settings.stream.root)
    monkeypatch.setenv("WATCHLAKE__LAKE__ROOT", settings.lake.root)
    return settings


def records(lake: Lake) -> list[tuple]:
    con = connect(lake, ["records"])
    return con.execute("SELECT shardId, sequenceNumber, data FROM records ORDER BY 1, 2").fetchall()


def test_stream_cli_put_get_and_load_once(env: Settings, lake: Lake, tmp_path, capsys):
    src = tmp_path / "in.ndjson"
    src.write_text("".join(json.dumps({"user": f"u{i % 5}", "n": i}) + "\n" for i in range(40)))
    assert main(["stream", "create", "orders", "--shards", "3"]) == 0
    assert main(["stream", "put", "orders", str(src), "--partition-key-field", "user"]) == 0
    capsys.readouterr()
    assert main(["stream", "get", "orders"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got["Records"]) == 40
    assert main(["stream", "describe", "orders"]) == 0
    desc = json.loads(capsys.readouterr().out)["StreamDescription"]
    assert desc["OpenShardCount"] == 3 and desc["RetentionPeriodHours"] == 24

    assert main(["load", "--from-stream", "orders", "--once"]) == 0
    err = capsys.readouterr().err
    assert "records in          40" in err or "records in" in err
    rows = records(lake)
    assert len(rows) == 40
    assert sorted(json.loads(r[2])["n"] for r in rows) == list(range(40))
    # a second run reads nothing new (checkpoint), and after new puts loads only those
    assert main(["load", "--from-stream", "orders", "--once"]) == 0
    assert len(records(lake)) == 40
    assert main(["stream", "put", "orders", str(src), "--partition-key", "k"]) == 0
    assert main(["load", "--from-stream", "orders", "--once"]) == 0
    assert len(records(lake)) == 80


def test_lost_checkpoint_replays_without_duplicates(env: Settings, lake: Lake, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("".join(f"line {i}\n" for i in range(25)))
    main(["stream", "create", "s1", "--shards", "2"])
    main(["stream", "put", "s1", str(src), "--partition-key", "p"])
    assert main(["load", "--from-stream", "s1", "--once"]) == 0
    cp_dir = os.path.join(env.stream.root, "_checkpoints")
    for dirpath, _, files in os.walk(cp_dir):
        for f in files:
            os.unlink(os.path.join(dirpath, f))  # at-least-once: the consumer re-reads everything
    assert main(["load", "--from-stream", "s1", "--once"]) == 0
    assert len(records(lake)) == 25


def test_put_errors_are_one_line(env: Settings, tmp_path, capsys):
    main(["stream", "create", "s2"])
    src = tmp_path / "in.ndjson"
    src.write_text('{"a": 1}\n')
    assert main(["stream", "put", "s2", str(src), "--partition-key-field", "user"]) == 2
    assert "in.ndjson:1, field `user`: record has no partition key field" in capsys.readouterr().err


def test_route_payloads_to_their_tables(env: Settings, lake: Lake, tmp_path):
    from pipeline.stream import Stream

    s = Stream.create(env.stream.root, "mixed", 2)
    ct = {"eventVersion": "1.08", "eventID": "ev-routed-1", "eventTime": "2026-11-08T10:00:00Z",
          "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1"}
    metric = {"metric_stream_name": "ms", "account_id": "111122223333", "region": "us-east-1",
              "namespace": "AWS/EC2", "metric_name": "CPUUtilization", "dimensions": {"InstanceId": "i-1"},
              "timestamp": 1794132000000, "value": {"max": 2.0, "min": 1.0, "sum": 3.0, "count": 2.0},
              "unit": "Percent"}
    s.put([("a", json.dumps(ct).encode()), ("b", json.dumps(metric).encode()), ("c", b'{"click": 1}'),
           ("d", b"plain text")])
    assert main(["load", "--from-stream", "mixed", "--once", "--route"]) == 0
    con = connect(lake, ["cloudtrail", "metrics", "records"])
    assert con.execute("SELECT eventID FROM cloudtrail").fetchall() == [("ev-routed-1",)]
    assert con.execute("SELECT metric_name, sum FROM metrics").fetchall() == [("CPUUtilization", 3.0)]
    assert sorted(r[0] for r in con.execute("SELECT data FROM records").fetchall()) == [b"plain text", b'{"click": 1}']
    assert main(["load", "--from-stream", "mixed", "--once", "--route", "--consumer", "other"]) == 0
    con = connect(lake, ["cloudtrail", "metrics", "records"])
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("cloudtrail", "metrics", "records")] \
        == [1, 1, 2]


def test_routed_checkpoint_moves_under_continuous_input(settings: Settings, lake: Lake):
    """Records keep arriving, so some buffer always holds rows; the checkpoint must still move past
    all that is committed (a restart then re-reads seconds of the stream, not all of it)."""
    import dataclasses

    from pipeline.loader import Loader
    from pipeline.loader.from_stream import StreamDelivery
    from pipeline.stream import Stream
    from pipeline.stream.consumer import Checkpoints, LocalConsumer

    now = [0.0]
    s = Stream.create(settings.stream.root, "busy", 1)
    loader = Loader(lake, dataclasses.replace(settings.loader, buffer_seconds=5), clock=lambda: now[0])
    cps = Checkpoints.for_consumer(settings.stream.root, "busy", "c")
    d = StreamDelivery(LocalConsumer(Stream.open(settings.stream.root, "busy"), cps), loader, route=True)
    for i in range(12):  # one event per second, each step sees a fresh one still buffered
        ev = {"eventVersion": "1.08", "eventID": f"ev-{i}", "eventTime": f"2026-11-08T10:00:{i:02d}Z",
              "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1"}
        s.put([(f"k{i}", json.dumps(ev).encode())])
        d.step()
        now[0] += 1.0
    saved = cps.load()
    assert saved, "the checkpoint never moved"
    committed = connect(lake, ["cloudtrail"]).execute("SELECT count(*) FROM cloudtrail").fetchall()[0][0]
    assert committed >= 6
    # a restarted consumer starts after what is committed: it re-reads only the still-buffered tail
    again = LocalConsumer(Stream.open(settings.stream.root, "busy"), Checkpoints.for_consumer(
        settings.stream.root, "busy", "c"))
    reread = sum(t.num_rows for t in again.poll())
    assert reread == 12 - committed
