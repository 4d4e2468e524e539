"""A consumer of a real Kinesis Data Streams endpoint (AWS, LocalStack, moto …) through boto3:
ListShards, GetShardIterator and GetRecords, with checkpoints kept by watchlake.

Credentials and region come from the usual AWS chain (environment, profile). Shards that close
(after a reshard) are read to their end and then dropped; their children are listed on the next
:meth:`KinesisConsumer.refresh_shards` (called when a shard ends). Parent-before-child order is
not enforced: the lake's de-duplication makes order irrelevant for correctness.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pipeline.errors import InputError, TransientError
from pipeline.stream.consumer import BaseConsumer, Checkpoints, StartPosition, records_table


class KinesisError(TransientError):
    """The Kinesis endpoint failed or refused a call."""


class IteratorExpired(KinesisError):
    """A shard iterator is older than 5 minutes (the consumer stalled)."""


class KinesisConsumer(BaseConsumer):
    """Reads every shard of stream ``name`` at ``endpoint_url`` from its checkpoint."""

    def __init__(self, name: str, endpoint_url: str | None, checkpoints: Checkpoints,
                 start: StartPosition = StartPosition(), region: str = "us-east-1", client: Any = None):
        from pipeline.errors import require

        boto3 = require("boto3", "s3", "reading a Kinesis endpoint")

        self.stream_name, self.checkpoints, self.start = name, checkpoints, start
        super().__init__()
        self.client = client or boto3.client("kinesis", endpoint_url=endpoint_url, region_name=region)
        self.iterators: dict[str, str | None] = {}
        self.done: set[str] = set()
        self.refresh_shards()

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result: dict[str, Any] = getattr(self.client, op)(**kwargs)
            return result
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ExpiredIteratorException":
                raise IteratorExpired(code) from None
            if code == "ResourceNotFoundException":
                raise InputError("no such Kinesis stream", field="StreamName", value=self.stream_name) from None
            raise KinesisError(f"Kinesis {op} failed: {code or exc}") from None
        except BotoCoreError as exc:
            raise KinesisError(f"Kinesis {op} failed: {exc}") from None

    def refresh_shards(self) -> None:
        shards: list[dict[str, Any]] = []
        resp = self._call("list_shards", StreamName=self.stream_name)
        shards += resp["Shards"]
        while resp.get("NextToken"):
            resp = self._call("list_shards", NextToken=resp["NextToken"])
            shards += resp["Shards"]
        for s in shards:
            sid = s["ShardId"]
            if sid in self.iterators or sid in self.done:
                continue
            self.iterators[sid] = self._iterator(sid)

    def _iterator(self, sid: str) -> str:
        """A fresh iterator for ``sid``: after the last record read, else from the checkpoint,
        else at the start position."""
        cp = self.state.get(sid)
        if sid in self.last_read:
            cp = {"type": "AFTER_SEQUENCE_NUMBER", "seq": self.last_read[sid]}
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": sid}
        if cp:
            kwargs.update(ShardIteratorType=cp["type"], StartingSequenceNumber=cp["seq"])
        else:
            kwargs["ShardIteratorType"] = self.start.type
            if self.start.sequence_number:
                kwargs["StartingSequenceNumber"] = self.start.sequence_number
            if self.start.timestamp:
                kwargs["Timestamp"] = self.start.timestamp
        iterator: str = self._call("get_shard_iterator", **kwargs)["ShardIterator"]
        return iterator

    def poll(self, limit: int = 10_000) -> list[pa.Table]:
        """One GetRecords call per open shard; advances the iterators."""
        out = []
        behind = 0
        ended = False
        for sid, it in list(self.iterators.items()):
            if it is None:
                continue
            try:
                resp = self._call("get_records", ShardIterator=it, Limit=limit)
            except IteratorExpired:
                self.iterators[sid] = it = self._iterator(sid)
                resp = self._call("get_records", ShardIterator=it, Limit=limit)
            recs = resp.get("Records", [])
            self.iterators[sid] = resp.get("NextShardIterator")
            behind = max(behind, int(resp.get("MillisBehindLatest", 0) or 0))
            if self.iterators[sid] is None:
                self.done.add(sid)
                del self.iterators[sid]
                ended = True
            if not recs:
                continue
            seqs = [r["SequenceNumber"] for r in recs]
            arrivals = [int(r["ApproximateArrivalTimestamp"].timestamp() * 1000) for r in recs]
            out.append(records_table(self.stream_name, sid, seqs, arrivals,
                                     [r["PartitionKey"] for r in recs], [bytes(r["Data"]) for r in recs]))
            self.last_read[sid] = seqs[-1]
        if ended:
            self.refresh_shards()
        self.caught_up = not out and behind == 0
        return out
