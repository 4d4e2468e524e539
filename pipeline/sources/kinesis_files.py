"""Kinesis Data Streams records → the ``records`` raw table, with payload routing.

Recognised by content:

* ``aws kinesis get-records`` output ``{"Records": [{SequenceNumber, ApproximateArrivalTimestamp,
  Data (base64), PartitionKey}], "NextShardIterator", "MillisBehindLatest"}`` — arrival times
  as ISO text (CLI v2) or epoch seconds (CLI v1);
* Lambda Kinesis events ``{"Records": [{"kinesis": {…, "data": base64}, "eventID":
  "<shard>:<seq>", "eventSourceARN": "arn:…:stream/<name>"}]}``.

``Data`` is base64-decoded. A payload that is itself CloudTrail (an event, a ``Records`` file or
an EventBridge envelope), a CloudWatch Logs subscription payload (gzip, as subscriptions write
to Kinesis) or Metric Streams JSON lines is **routed**: its rows go to a ``cloudtrail``,
``logs`` or ``metrics`` batch (origin ``file:index``) and the Kinesis record is counted in
``skipped["routed_to_<table>"]`` of the ``records`` batch instead of becoming a row there. Every
other payload is one ``records`` row with its raw bytes.

Stream and shard: the ``stream_name`` / ``shard_id`` options win; else the Lambda event's
``eventSourceARN`` / ``eventID``; else a ``shardId-NNNNNNNNNNNN`` in the file name; else
``unknown`` / ``shardId-000000000000``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from pipeline.sources import logs_files
from pipeline.sources.base import Batch
from pipeline.sources.cloudtrail import events_to_table
from pipeline.sources.conform import Bad, no_gc, parse_ts
from pipeline.sources.jsondocs import documents
from pipeline.sources.locations import Decoded, gunzip
from pipeline.sources.metrics_files import _Series
from pipeline.sources.metrics_files import _value as metric_value
from pipeline.sources.rows import RowBuffer

SOURCE = "records"
OPTIONS = ("stream_name", "shard_id")
_SHARD = re.compile(r"shardId-\d{12}")


def classify(data: bytes) -> tuple[str, Any]:
    """What a payload is: ``("cloudtrail", events)``, ``("logs", payload dict)``,
    ``("metrics", bytes)`` or ``("records", None)``."""
    body = data
    if body.startswith(b"\x1f\x8b"):
        body, problem = gunzip(body)
        if problem:
            return "records", None
    head = body.lstrip()[:1]
    if head not in (b"{", b"["):
        return "records", None
    try:
        v = orjson.loads(body)
    except orjson.JSONDecodeError:
        first = body.lstrip().split(b"\n", 1)[0]
        try:
            v = orjson.loads(first)
        except orjson.JSONDecodeError:
            return "records", None
        return ("metrics", body) if isinstance(v, dict) and "metric_name" in v and "value" in v else ("records", None)
    if isinstance(v, dict):
        if "messageType" in v and "logEvents" in v:
            return "logs", v
        if "metric_name" in v and "namespace" in v and "value" in v:
            return "metrics", body
        if "detail-type" in v and isinstance(v.get("detail"), dict) and "eventID" in v["detail"]:
            return "cloudtrail", [v["detail"]]
        if "eventVersion" in v and "eventID" in v and "eventTime" in v:
            return "cloudtrail", [v]
        if isinstance(v.get("Records"), list) and v["Records"] and isinstance(v["Records"][0], dict) \
                and "eventVersion" in v["Records"][0]:
            return "cloudtrail", v["Records"]
    return "records", None


class _Router:
    """Holds the ``records`` buffer of a unit plus buffers for routed rows."""

    def __init__(self, dec: Decoded, opts: dict[str, Any]):
        self.origin, self.opts = dec.unit.origin, opts
        self.records = RowBuffer(SOURCE, self.origin, dec.raw_bytes)
        self.logs = RowBuffer("logs", self.origin)
        self.metrics = RowBuffer("metrics", self.origin)
        self.ct_events: list[Any] = []
        self.ct_pos: list[int] = []
        m = _SHARD.search(self.origin.rsplit("/", 1)[-1])
        self.default_shard = opts.get("shard_id") or (m.group(0) if m else "shardId-000000000000")

    def record(self, i: int, rec: Any, lam: bool) -> None:
        try:
            if not isinstance(rec, dict):
                raise Bad(None, "record is not an object")
            k = rec.get("kinesis") if lam else rec
            if not isinstance(k, dict):
                raise Bad("kinesis", "Lambda record without `kinesis`")
            seq = k.get("sequenceNumber" if lam else "SequenceNumber")
            if not isinstance(seq, str) or not seq:
                raise Bad("SequenceNumber", "missing sequence number")
            b64 = k.get("data" if lam else "Data")
            if not isinstance(b64, str):
                raise Bad("Data", "missing base64 Data")
            try:
                data = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise Bad("Data", "Data is not valid base64") from None
            arrival = k.get("approximateArrivalTimestamp" if lam else "ApproximateArrivalTimestamp")
            when = parse_ts(arrival, "ApproximateArrivalTimestamp") if arrival is not None else None
            stream, shard = self.opts.get("stream_name"), self.opts.get("shard_id")
            if lam:
                arn, eid = str(rec.get("eventSourceARN", "")), str(rec.get("eventID", ""))
                stream = stream or (arn.rsplit("/", 1)[-1] if "stream/" in arn else None)
                shard = shard or (eid.split(":", 1)[0] if eid.startswith("shardId-") else None)
            row = {"streamName": stream or "unknown", "shardId": shard or self.default_shard, "sequenceNumber": seq,
                   "partitionKey": k.get("partitionKey" if lam else "PartitionKey"),
                   "approximateArrivalTimestamp": when, "data": data}
        except Bad as bad:
            self.records.reject(i, bad.reason, rec, bad.field)
            return
        self.route(i, row, rec)

    def route(self, i: int, row: dict[str, Any], rec: Any) -> None:
        kind, value = classify(row["data"])
        if kind == "cloudtrail":
            self.ct_events.extend(value)
            self.ct_pos.extend([i] * len(value))
        elif kind == "logs":
            unit_origin = self.logs.origin
            self.logs.origin = f"{self.origin}:{i}"
            logs_files.add_payload(self.logs, None, value)
            self.logs.origin = unit_origin
        elif kind == "metrics":
            s = _Series(self.metrics, {})
            for doc in documents(value):
                if doc.value is not None:
                    metric_value(s, i, doc.value)
                elif doc.error:
                    self.metrics.reject(i, doc.error, doc.raw)
        else:
            self.records.add(row, i, rec)
            return
        self.records.skip(f"routed_to_{kind}")

    def batches(self) -> Iterator[Batch]:
        if self.ct_events:
            table, rej = events_to_table(self.ct_events, self.origin, positions=self.ct_pos)
            yield Batch("cloudtrail", table, self.origin, rej)
        for buf in (self.logs, self.metrics):
            if not buf.empty():
                yield buf.flush()
        if not self.records.empty():
            yield self.records.flush()


def _value(router: _Router, pos: int | None, v: Any) -> None:
    items = v.get("Records") if isinstance(v, dict) else v if isinstance(v, list) else None
    if not isinstance(items, list):
        router.records.reject(pos, "not Kinesis records (get-records output or a Lambda Kinesis event)", v)
        return
    for i, rec in enumerate(items):
        lam = isinstance(rec, dict) and "kinesis" in rec
        router.record(i if pos is None else pos, rec, lam)


def read(decoded: Iterable[Decoded], **options: Any) -> Iterator[Batch]:
    """Record batches (and routed cloudtrail/logs/metrics batches) for every decoded unit."""
    for dec in decoded:
        router = _Router(dec, options)
        if dec.problem and not dec.data:
            router.records.reject(None, dec.problem)
        with no_gc():
            for doc in documents(dec.data):
                if doc.error is not None:
                    router.records.reject(doc.line, doc.error, doc.raw)
                if doc.value is not None:
                    _value(router, doc.line, doc.value)
        yield from router.batches()
