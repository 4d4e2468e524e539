"""Kinesis-Data-Streams-like streams on local disk (``settings.stream.root``).

``<root>/<stream>/stream.json`` holds the shard layout (hash key ranges) and retention; each
shard is a :class:`~pipeline.stream.log.ShardLog` folder. API parity with Kinesis where it
matters to producers and consumers:

- ``put``: shard = the one whose hash key range holds MD5(partition key) (or ExplicitHashKey);
  partition keys are 1–256 characters, data + key ≤ 1 MiB; a put returns ``(ShardId,
  SequenceNumber)`` per record after the records are fsync-ed (durable);
- sequence numbers increase per shard; iterators: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER,
  AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP;
- records are kept for the retention period (24 h default, up to 8,760 h) and then trimmed.

Not modelled: resharding (SplitShard/MergeShards), throughput limits, iterator expiry,
enhanced fan-out.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.errors import InputError, InputNotFoundError
from pipeline.stream import shards as sh
from pipeline.stream.log import MAX_RECORD_BYTES, Chunk, ShardLog
from pipeline.timeutil import EPOCH, epoch_ms, iso

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP")


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class PutResult:
    shard_id: str
    sequence_number: str


Position = tuple[int, int]
"""(chunk offset, record index) in a shard."""


class Stream:
    """One local stream. Open with :meth:`create` or :meth:`open`."""

    def __init__(self, root: str, name: str, meta: dict[str, Any], *, clock: Any = _now_ms):
        self.root, self.name, self.meta, self.clock = root, name, meta, clock
        self.folder = os.path.join(root, name)
        self.ranges = [(int(s["StartingHashKey"]), int(s["EndingHashKey"])) for s in meta["Shards"]]
        self.shard_ids = [s["ShardId"] for s in meta["Shards"]]
        self._logs = {sid: ShardLog(os.path.join(self.folder, sid)) for sid in self.shard_ids}

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def create(cls, root: str, name: str, shard_count: int, retention_hours: int = 24,
               *, clock: Any = _now_ms) -> Stream:
        """Create a stream; raises InputError if the name is invalid or already used."""
        if not _NAME_RE.fullmatch(name) or name in (".", ".."):
            raise InputError("stream names are 1-128 of A-Z a-z 0-9 _ . -", field="StreamName", value=name)
        if not 24 <= retention_hours <= 8760:
            raise InputError("retention must be 24-8760 hours", field="RetentionPeriodHours",
                             value=retention_hours)
        folder = os.path.join(root, name)
        if os.path.exists(os.path.join(folder, "stream.json")):
            raise InputError("stream already exists", field="StreamName", value=name)
        meta = {
            "StreamName": name, "StreamStatus": "ACTIVE", "RetentionPeriodHours": retention_hours,
            "StreamCreationTimestamp": iso(EPOCH + timedelta(milliseconds=clock())),
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "Shards": [{"ShardId": sh.shard_id(i), "StartingHashKey": str(a), "EndingHashKey": str(b)}
                       for i, (a, b) in enumerate(sh.hash_ranges(shard_count))],
        }
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, ".stream.json.tmp")
        with open(tmp, "w") as f:
            json.dump(meta, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(folder, "stream.json"))
        return cls(root, name, meta, clock=clock)

    @classmethod
    def open(cls, root: str, name: str, *, clock: Any = _now_ms) -> Stream:
        path = os.path.join(root, name, "stream.json")
        if not _NAME_RE.fullmatch(name) or not os.path.exists(path):
            raise InputNotFoundError(f"stream {name!r} in {root}", "no such stream (create it with "
                                     "`watchlake stream create`)")
        with open(path) as f:
            return cls(root, name, json.load(f), clock=clock)

    @staticmethod
    def names(root: str) -> list[str]:
        if not os.path.isdir(root):
            return []
        return sorted(n for n in os.listdir(root) if os.path.exists(os.path.join(root, n, "stream.json")))

    @property
    def retention_ms(self) -> int:
        return int(self.meta["RetentionPeriodHours"]) * 3_600_000

    def log(self, shard_id: str) -> ShardLog:
        try:
            return self._logs[shard_id]
        except KeyError:
            raise InputError(f"stream {self.name} has no such shard", field="ShardId", value=shard_id) from None

    # -- producer ------------------------------------------------------------------------------

    def put(self, records: Sequence[tuple[Any, ...]]) -> list[PutResult]:
        """Append records ``(partition key, data[, explicit hash key])``; durable on return.

        Raises:
            InputError: a partition key or record size is outside Kinesis' limits (record index
                in ``line``); nothing is written then.
        """
        from pipeline.lake.locks import flock

        by_shard: dict[int, list[tuple[int, bytes, bytes]]] = {}
        for i, rec in enumerate(records):
            key, data = rec[0], rec[1]
            explicit = rec[2] if len(rec) > 2 else None
            if not isinstance(key, str) or not 1 <= len(key) <= 256:
                raise InputError("partition key must be 1-256 characters", line=i, field="PartitionKey",
                                 value=key)
            kb = key.encode("utf-8")
            if len(kb) + len(data) > MAX_RECORD_BYTES:
                raise InputError("record larger than 1 MiB (data + partition key)", line=i, field="Data",
                                 value=len(kb) + len(data))
            idx = (sh.shard_for_hash(int(explicit), self.ranges) if explicit
                   else sh.shard_for_key(key, self.ranges))
            by_shard.setdefault(idx, []).append((i, kb, bytes(data)))
        results: list[PutResult | None] = [None] * len(records)
        now = self.clock()
        for idx, items in sorted(by_shard.items()):
            sid = self.shard_ids[idx]
            log = self._logs[sid]
            with flock(os.path.join(self.folder, sid + ".lock")):
                placed = log.append([(kb, data) for _, kb, data in items], now)
                log.trim(now - self.retention_ms)
            for (i, _, _), (offset, index, _arrival) in zip(items, placed):
                results[i] = PutResult(sid, sh.sequence_number(idx, offset, index))
        return [r for r in results if r is not None]

    # -- consumer ------------------------------------------------------------------------------

    def position(self, shard_id: str, iterator_type: str, sequence_number: str | None = None,
                 timestamp: datetime | None = None) -> Position:
        """The position an iterator of this type starts at (GetShardIterator)."""
        log = self.log(shard_id)
        idx = self.shard_ids.index(shard_id)
        if iterator_type == "TRIM_HORIZON":
            return self._first_live(log)
        if iterator_type == "LATEST":
            return (log.end_offset(), 0)
        if iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence_number is None:
                raise InputError(f"{iterator_type} needs a sequence number", field="StartingSequenceNumber")
            _, offset, index = sh.parse_sequence_number(sequence_number, idx)
            if offset < log.first_offset():
                return self._first_live(log)  # expired: continue from the oldest kept record
            chunk = log.chunk_at(offset)
            if chunk is None or index >= len(chunk):
                raise InputError("no record with this sequence number in the shard",
                                 field="StartingSequenceNumber", value=sequence_number)
            if iterator_type == "AT_SEQUENCE_NUMBER":
                return (offset, index)
            _, nxt = log.read(offset, index, limit=1)
            return nxt
        if iterator_type == "AT_TIMESTAMP":
            if timestamp is None:
                raise InputError("AT_TIMESTAMP needs a timestamp", field="Timestamp")
            return max(log.position_at_time(epoch_ms(timestamp)), self._first_live(log))
        raise InputError(f"unknown iterator type (known: {', '.join(ITERATOR_TYPES)})",
                         field="ShardIteratorType", value=iterator_type)

    def _first_live(self, log: ShardLog) -> Position:
        cutoff = self.clock() - self.retention_ms
        chunks, _ = log.read(log.first_offset(), 0, limit=1)
        if chunks and chunks[0].arrival_ms < cutoff:
            return log.position_at_time(cutoff)
        return (log.first_offset(), 0)

    def read(self, shard_id: str, position: Position, limit: int = 10_000) -> tuple[list[Chunk], Position]:
        """Records from ``position`` (skipping any older than retention) and the next position."""
        chunks, nxt = self.log(shard_id).read(position[0], position[1], limit)
        cutoff = self.clock() - self.retention_ms
        if chunks and chunks[0].arrival_ms < cutoff:
            chunks = [c for c in chunks if c.arrival_ms >= cutoff]
        return chunks, nxt

    def iterator(self, shard_id: str, position: Position) -> str:
        """An opaque shard iterator token for :meth:`get_records`."""
        return base64.urlsafe_b64encode(json.dumps([self.name, shard_id, *position]).encode()).decode()

    def get_records(self, iterator: str, limit: int = 10_000) -> dict[str, Any]:
        """GetRecords: ``{"Records": [...], "NextShardIterator", "MillisBehindLatest"}`` with
        ``Data`` base64 and ``ApproximateArrivalTimestamp`` in epoch seconds, as the AWS CLI prints."""
        try:
            name, sid, offset, index = json.loads(base64.urlsafe_b64decode(iterator.encode()))
        except (ValueError, TypeError):
            raise InputError("invalid shard iterator", field="ShardIterator", value=iterator) from None
        if name != self.name:
            raise InputError("shard iterator belongs to another stream", field="ShardIterator", value=name)
        chunks, nxt = self.read(sid, (int(offset), int(index)), limit)
        idx = self.shard_ids.index(sid)
        behind = 0
        if nxt[0] < self.log(sid).end_offset():
            more, _ = self.log(sid).read(*nxt, limit=1)
            behind = max(0, self.clock() - more[0].arrival_ms) if more else 0
        records = []
        for c in chunks:
            for i, (key, data) in enumerate(zip(c.keys.to_pylist(), c.data.to_pylist())):
                records.append({"SequenceNumber": sh.sequence_number(idx, c.offset, c.first + i),
                                "ApproximateArrivalTimestamp": c.arrival_ms / 1000,
                                "Data": base64.b64encode(data).decode(), "PartitionKey": key})
        return {"Records": records, "NextShardIterator": self.iterator(sid, nxt), "MillisBehindLatest": behind}

    def describe(self) -> dict[str, Any]:
        """DescribeStream-like summary, plus per-shard record offsets."""
        out = {k: v for k, v in self.meta.items() if k != "Shards"}
        out["OpenShardCount"] = len(self.shard_ids)
        shards = []
        for i, s in enumerate(self.meta["Shards"]):
            log = self._logs[s["ShardId"]]
            end = log.end_offset()
            shards.append({**s, "HashKeyRange": {"StartingHashKey": s["StartingHashKey"],
                                                 "EndingHashKey": s["EndingHashKey"]},
                           "SequenceNumberRange": {"StartingSequenceNumber": sh.sequence_number(i, log.first_offset())},
                           "Bytes": end - log.first_offset()})
            del shards[-1]["StartingHashKey"], shards[-1]["EndingHashKey"]
        out["Shards"] = shards
        return out

