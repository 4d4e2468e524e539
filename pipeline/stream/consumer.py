"""Stream consumers with checkpoints kept by watchlake (a KCL lease table in a JSON file).

Delivery is at-least-once, as with Kinesis: a consumer starts after its checkpoint, and the
checkpoint only moves past a record once the caller says everything before it is committed
(:meth:`BaseConsumer.checkpoint` with the rows still buffered). A consumer that crashes
re-reads from its last checkpoint; the loader's de-duplication by sequence number turns that
into exactly-once in the lake.

Both consumers yield Arrow tables in the ``records`` schema (:data:`pipeline.schemas.RECORDS`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import InputError
from pipeline.schemas import RECORDS, TS
from pipeline.stream import shards as sh
from pipeline.stream.log import Chunk
from pipeline.stream.store import ITERATOR_TYPES, Stream


@dataclass(frozen=True)
class StartPosition:
    """Where a consumer without a checkpoint starts (GetShardIterator's type and argument)."""

    type: str = "TRIM_HORIZON"
    sequence_number: str | None = None
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.type not in ITERATOR_TYPES:
            raise InputError(f"unknown iterator type (known: {', '.join(ITERATOR_TYPES)})",
                             field="iterator-type", value=self.type)


class Checkpoints:
    """One consumer's per-shard checkpoints in a JSON file, replaced atomically (fsync + rename)."""

    def __init__(self, path: str):
        self.path = path

    @classmethod
    def for_consumer(cls, root: str, stream: str, consumer: str, endpoint: str | None = None) -> Checkpoints:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", consumer):
            raise InputError("consumer names are 1-128 of A-Z a-z 0-9 _ . -", field="consumer", value=consumer)
        where = "local" if endpoint is None else "kinesis-" + hashlib.sha1(endpoint.encode()).hexdigest()[:12]
        return cls(os.path.join(root, "_checkpoints", where, f"{stream}.{consumer}.json"))

    def load(self) -> dict[str, dict[str, str]]:
        try:
            with open(self.path) as f:
                data: dict[str, dict[str, str]] = json.load(f)
                return data
        except FileNotFoundError:
            return {}

    def save(self, state: dict[str, dict[str, str]]) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def records_table(stream: str, shard_id: str, seqs: list[str], arrivals_ms: list[int],
                  keys: list[str], data: list[bytes]) -> pa.Table:
    """Kinesis records of one shard as a table in the ``records`` schema."""
    n = len(seqs)
    origin = f"kinesis:{stream}/{shard_id}/"
    return pa.table({
        "streamName": pa.array([stream] * n, pa.string()),
        "shardId": pa.array([shard_id] * n, pa.string()),
        "sequenceNumber": pa.array(seqs, pa.string()),
        "partitionKey": pa.array(keys, pa.string()),
        "approximateArrivalTimestamp": pa.array(arrivals_ms, pa.int64()).cast(TS),
        "data": pa.array(data, pa.binary()),
        "_wl_origin": pc.binary_join_element_wise(pa.array([origin] * n, pa.string()),
                                                  pa.array(seqs, pa.string()), ""),
        "_wl_ingest_time": pa.nulls(n, TS),
    }, schema=RECORDS)


def _min_pending(stream: str, pending: list[pa.Table]) -> dict[str, str]:
    """Smallest still-buffered sequence number per shard of ``stream`` (numeric order)."""
    out: dict[str, str] = {}
    for t in pending:
        t = t.filter(pc.equal(t.column("streamName"), stream))
        if not t.num_rows:
            continue
        t = t.select(["shardId"]).append_column("k", pc.utf8_lpad(t.column("sequenceNumber"), 80, "0"))
        for row in t.group_by("shardId").aggregate([("k", "min")]).to_pylist():
            seq = row["k_min"].lstrip("0") or "0"
            sid = row["shardId"]
            if sid not in out or (len(seq), seq) < (len(out[sid]), out[sid]):
                out[sid] = seq
    return out


class BaseConsumer:
    """Checkpoint bookkeeping shared by the local and the Kinesis consumer."""

    stream_name: str
    checkpoints: Checkpoints

    def __init__(self) -> None:
        self.state = self.checkpoints.load()
        self.last_read: dict[str, str] = {}
        self.caught_up = False

    def checkpoint(self, pending: list[pa.Table]) -> dict[str, dict[str, str]]:
        """Move checkpoints to just before the oldest still-buffered record of each shard (or past
        the last record read when none is buffered), and save them."""
        held = _min_pending(self.stream_name, pending)
        state = dict(self.state)
        for sid, seq in self.last_read.items():
            state[sid] = {"type": "AFTER_SEQUENCE_NUMBER", "seq": seq}
        for sid, seq in held.items():
            state[sid] = {"type": "AT_SEQUENCE_NUMBER", "seq": seq}
        if state != self.state:
            self.checkpoints.save(state)
            self.state = state
        return state

    def poll(self, limit: int = 10_000) -> list[pa.Table]:
        raise NotImplementedError


class LocalConsumer(BaseConsumer):
    """Reads every shard of a local :class:`Stream` from its checkpoint."""

    def __init__(self, stream: Stream, checkpoints: Checkpoints, start: StartPosition = StartPosition()):
        self.stream, self.stream_name, self.checkpoints = stream, stream.name, checkpoints
        super().__init__()
        self.positions: dict[str, tuple[int, int]] = {}
        for sid in stream.shard_ids:
            cp = self.state.get(sid)
            if cp:
                self.positions[sid] = stream.position(sid, cp["type"], cp["seq"])
            else:
                self.positions[sid] = stream.position(sid, start.type, start.sequence_number, start.timestamp)

    def poll(self, limit: int = 10_000) -> list[pa.Table]:
        """Up to ``limit`` records per shard after the current position; advances the position.

        Columnar: each stored chunk becomes Arrow columns without a per-record Python step."""
        out = []
        for idx, sid in enumerate(self.stream.shard_ids):
            chunks, nxt = self.stream.read(sid, self.positions[sid], limit)
            self.positions[sid] = nxt
            if not chunks:
                continue
            out.append(chunks_table(self.stream_name, sid, idx, chunks))
            last = chunks[-1]
            self.last_read[sid] = sh.sequence_number(idx, last.offset, last.first + len(last) - 1)
        self.caught_up = not out
        return out


def chunks_table(stream: str, shard_id: str, shard: int, chunks: list[Chunk]) -> pa.Table:
    """Stored chunks of one shard as a table in the ``records`` schema (column-wise)."""
    parts = []
    for c in chunks:
        n = len(c)
        prefix = f"49{shard:06d}{c.offset:038d}"
        idx = pc.utf8_lpad(pc.cast(pa.array(np.arange(c.first, c.first + n, dtype=np.int64)), pa.string()),
                           10, "0")
        seqs = pc.binary_join_element_wise(pa.repeat(prefix, n), idx, "")
        parts.append(pa.table({
            "streamName": pa.repeat(stream, n),
            "shardId": pa.repeat(shard_id, n),
            "sequenceNumber": seqs,
            "partitionKey": c.keys,
            "approximateArrivalTimestamp": pa.repeat(pa.scalar(c.arrival_ms, pa.int64()), n).cast(TS),
            "data": c.data,
            "_wl_origin": pc.binary_join_element_wise(pa.repeat(f"kinesis:{stream}/{shard_id}/", n), seqs, ""),
            "_wl_ingest_time": pa.nulls(n, TS),
        }, schema=RECORDS))
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def describe_state(state: dict[str, Any]) -> str:
    return ", ".join(f"{sid}: {cp['type']} {cp['seq'][-12:]}" for sid, cp in sorted(state.items()))
