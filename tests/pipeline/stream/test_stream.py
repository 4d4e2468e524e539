from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import pytest

from pipeline.errors import InputError, InputNotFoundError
from pipeline.stream import Stream
from pipeline.stream import shards as sh
from pipeline.stream.consumer import Checkpoints, LocalConsumer, StartPosition
from pipeline.stream.log import ShardLog


class Clock:
    def __init__(self, ms: int = 1_793_520_000_000):  # 2026-11-01T08:00Z
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_hash_ranges_match_kinesis_even_split():
    # CreateStream with 4 shards: 2^128 / 4 = 85070591730234615865843651857942052864 per shard
    r = sh.hash_ranges(4)
    assert r[0] == (0, 85070591730234615865843651857942052863)
    assert r[1][0] == 85070591730234615865843651857942052864
    assert r[3][1] == 340282366920938463463374607431768211455
    assert all(r[i][1] + 1 == r[i + 1][0] for i in range(3))


def test_partition_key_goes_to_md5_shard(tmp_path):
    s = Stream.create(str(tmp_path), "s", 4)
    keys = [f"user-{i}" for i in range(200)]
    results = s.put([(k, k.encode()) for k in keys])
    for k, res in zip(keys, results):
        md5 = int(hashlib.md5(k.encode()).hexdigest(), 16)
        expected = md5 // (2**128 // 4)
        assert res.shard_id == f"shardId-{expected:012d}"
    # same key → same shard, sequence numbers strictly increasing per shard
    again = s.put([("user-7", b"x"), ("user-7", b"y")])
    assert again[0].shard_id == again[1].shard_id == results[7].shard_id
    assert int(again[0].sequence_number) < int(again[1].sequence_number)
    by_shard: dict[str, list[int]] = {}
    for r in results:
        by_shard.setdefault(r.shard_id, []).append(int(r.sequence_number))
    assert all(v == sorted(v) and len(set(v)) == len(v) for v in by_shard.values())
    assert len(by_shard) == 4


def test_explicit_hash_key_and_limits(tmp_path):
    s = Stream.create(str(tmp_path), "s", 2)
    assert s.put([("k", b"a", str(2**128 - 1))])[0].shard_id == "shardId-000000000001"
    assert s.put([("k", b"a", "0")])[0].shard_id == "shardId-000000000000"
    with pytest.raises(InputError, match="partition key"):
        s.put([("", b"a")])
    with pytest.raises(InputError, match="partition key"):
        s.put([("k" * 257, b"a")])
    with pytest.raises(InputError, match="1 MiB"):
        s.put([("k", b"x" * (1 << 20))])
    with pytest.raises(InputError):
        Stream.create(str(tmp_path), "../x", 1)
    with pytest.raises(InputError, match="already exists"):
        Stream.create(str(tmp_path), "s", 1)
    with pytest.raises(InputNotFoundError):
        Stream.open(str(tmp_path), "nope")


def test_iterator_types(tmp_path):
    clock = Clock()
    s = Stream.create(str(tmp_path), "s", 1, clock=clock)
    sid = "shardId-000000000000"
    first = s.put([("k", f"r{i}".encode()) for i in range(3)])
    clock.ms += 60_000
    later = s.put([("k", b"r3"), ("k", b"r4")])

    def data(pos):
        chunks, _ = s.read(sid, pos)
        return [d for c in chunks for d in c.data.to_pylist()]

    assert data(s.position(sid, "TRIM_HORIZON")) == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert data(s.position(sid, "LATEST")) == []
    assert data(s.position(sid, "AT_SEQUENCE_NUMBER", first[1].sequence_number)) == [b"r1", b"r2", b"r3", b"r4"]
    assert data(s.position(sid, "AFTER_SEQUENCE_NUMBER", first[2].sequence_number)) == [b"r3", b"r4"]
    at = datetime.fromtimestamp(clock.ms / 1000, UTC)
    assert data(s.position(sid, "AT_TIMESTAMP", timestamp=at)) == [b"r3", b"r4"]
    doc = s.get_records(s.iterator(sid, s.position(sid, "AFTER_SEQUENCE_NUMBER", later[0].sequence_number)))
    assert [r["Data"] for r in doc["Records"]] == ["cjQ="]  # base64 of b"r4"
    assert doc["Records"][0]["ApproximateArrivalTimestamp"] == clock.ms / 1000
    assert doc["MillisBehindLatest"] == 0
    with pytest.raises(InputError, match="no record"):
        s.position(sid, "AT_SEQUENCE_NUMBER", sh.sequence_number(0, 5))
    with pytest.raises(InputError, match="no record"):
        s.position(sid, "AT_SEQUENCE_NUMBER", sh.sequence_number(0, 0, 3))  # chunk 0 holds 3 records


def test_retention_skips_and_trims(tmp_path):
    clock = Clock()
    s = Stream.create(str(tmp_path), "s", 1, retention_hours=24, clock=clock)
    sid = "shardId-000000000000"
    s.log(sid).segment_bytes = 10  # a new segment after every put
    s.put([("k", b"old")])
    clock.ms += 23 * 3_600_000
    s.put([("k", b"mid")])
    assert _data(s, sid, s.position(sid, "TRIM_HORIZON")) == [b"old", b"mid"]
    clock.ms += 2 * 3_600_000  # "old" is now 25 h old
    segs = s.log(sid).segments()
    os.utime(segs[0][1], (clock.ms / 1000 - 25 * 3600,) * 2)
    assert _data(s, sid, s.position(sid, "TRIM_HORIZON")) == [b"mid"]
    s.put([("k", b"new")])
    assert len(s.log(sid).segments()) == 2  # the expired sealed segment was deleted


def test_torn_tail_is_invisible_and_truncated(tmp_path):
    s = Stream.create(str(tmp_path), "s", 1)
    sid = "shardId-000000000000"
    s.put([("k", b"one")])
    path = s.log(sid).segments()[-1][1]
    with open(path, "ab") as f:
        f.write(b"WC\x10\x00\x00")  # a writer killed mid-chunk
    reopened = Stream.open(str(tmp_path), "s")
    assert _data(reopened, sid, (0, 0)) == [b"one"]
    reopened.put([("k", b"two")])
    assert _data(Stream.open(str(tmp_path), "s"), sid, (0, 0)) == [b"one", b"two"]


def test_log_segments_roll_and_read_across(tmp_path):
    log = ShardLog(str(tmp_path / "shard"), segment_bytes=200)
    for i in range(20):
        log.append([(b"k", f"rec-{i}".encode() * 5), (b"k2", f"two-{i}".encode())], 1000 + i)
    assert len(log.segments()) > 3
    chunks, end = log.read(0, 0, limit=100)
    want = [d for i in range(20) for d in (f"rec-{i}".encode() * 5, f"two-{i}".encode())]
    assert [d for c in chunks for d in c.data.to_pylist()] == want
    assert end == (log.end_offset(), 0)
    chunks, nxt = log.read(chunks[7].offset, 1, limit=3)  # from the 2nd record of chunk 7
    assert [d[:6] for c in chunks for d in c.data.to_pylist()] == [b"two-7", b"rec-8r", b"two-8"]
    assert nxt == (chunks[-1].offset, 2) or nxt[1] == 0


def test_big_puts_split_into_chunks(tmp_path):
    s = Stream.create(str(tmp_path), "s", 1)
    records = [("k", bytes([i % 251]) * 100) for i in range(70_000)]
    res = s.put(records)
    assert len({sh.parse_sequence_number(r.sequence_number)[1] for r in res}) == 2  # 65,536 per chunk
    chunks, _ = s.read("shardId-000000000000", (0, 0), limit=100_000)
    assert sum(len(c) for c in chunks) == 70_000
    assert chunks[-1].data[-1].as_py() == records[-1][1]


def test_consumer_checkpoints_at_least_once(tmp_path):
    s = Stream.create(str(tmp_path), "s", 2)
    s.put([(f"k{i}", f"{i}".encode()) for i in range(50)])
    cps = Checkpoints.for_consumer(str(tmp_path), "s", "c1")
    c = LocalConsumer(s, cps)
    tables = c.poll()
    assert sum(t.num_rows for t in tables) == 50 and not c.caught_up
    held = tables[0].slice(10)  # pretend rows from 10 on are still buffered
    c.checkpoint([held])
    c2 = LocalConsumer(s, cps)  # a restart re-reads the held rows, nothing earlier
    again = c2.poll()
    shard0 = [t for t in again if t.column("shardId")[0].as_py() == tables[0].column("shardId")[0].as_py()]
    assert shard0[0].column("sequenceNumber").to_pylist() == held.column("sequenceNumber").to_pylist()
    assert sum(t.num_rows for t in again) == held.num_rows
    c2.checkpoint([])
    c3 = LocalConsumer(s, cps)
    assert c3.poll() == [] and c3.caught_up
    latest = LocalConsumer(s, Checkpoints.for_consumer(str(tmp_path), "s", "c2"), StartPosition("LATEST"))
    s.put([("z", b"new")])
    assert [t.column("data").to_pylist() for t in latest.poll()] == [[b"new"]]


def _data(s: Stream, sid: str, pos) -> list[bytes]:
    chunks, _ = s.read(sid, pos)
    return [d for c in chunks for d in c.data.to_pylist()]
