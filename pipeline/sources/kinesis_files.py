"""Kinesis Data Streams records → the ``records`` raw table, with payload routing.

Recognised by content:

* ``aws kinesis get-records`` output ``{"Records": [{SequenceNumber, ApproximateArrivalTimestamp,
  Data (base64), PartitionKey}], "NextShardIterator", "MillisBehindLatest"}`` — arrival times
  as ISO text (CLI v2) or epoch seconds (CLI v1);
* Lambda Kinesis events ``{"Records": [{"kinesis": {…, "data": base64}, "eventID":
  "<shard>:<seq>", "eventSourceARN": "arn:…:stream/<name>"}]}``.

``Data`` is base64-decoded. A payload that is itself CloudTrail (an event, a ``Records`` file or
an EventBridge envelope, or a subscription payload from a trail's log group whose every message is
a CloudTrail event), a CloudWatch Logs subscription payload (gzip, as subscriptions write
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
import pyarrow as pa

from pipeline.sources import logs_files
from pipeline.sources.base import Batch
from pipeline.sources.cloudtrail import events_to_table
from pipeline.sources.cloudtrail_files import trail_log_events
from pipeline.sources.conform import Bad, no_gc, parse_ts
from pipeline.sources.jsondocs import documents
from pipeline.sources.limits import DEFAULT_LIMITS, Limits
from pipeline.sources.locations import Decoded, gunzip
from pipeline.sources.metrics_files import _Series
from pipeline.sources.metrics_files import _value as metric_value
from pipeline.sources.rows import RowBuffer

SOURCE = "records"
OPTIONS = ("stream_name", "shard_id")
_SHARD = re.compile(r"shardId-\d{12}")


def classify(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[str, Any]:
    """What a payload is: ``("cloudtrail", events)``, ``("logs", payload dict)``,
    ``("metrics", bytes)`` or ``("records", None)``."""
    body = data
    if body.startswith(b"\x1f\x8b"):
        body, problem = gunzip(body, limits.max_object_bytes)
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
        if "messageType" in v and "logEvents" in v:  # a trail's log group: its events are CloudTrail
            events = trail_log_events(v)
            return ("cloudtrail", events) if events is not None else ("logs", v)
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

    def __init__(self, origin: str, raw_bytes: int, opts: dict[str, Any], limits: Limits = DEFAULT_LIMITS):
        self.origin, self.opts, self.limits = origin, opts, limits
        self.records = RowBuffer(SOURCE, self.origin, raw_bytes)
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
        if self.route(i, data, f"{self.origin}:{i}") == "records":
            self.records.add(row, i, rec)

    def route(self, i: int, data: bytes, origin: str) -> str:
        """Route one payload (position ``i``; ``origin`` names the record) to its table's buffer;
        returns the kind. A ``records`` payload is left to the caller; any other is counted in
        ``skipped["routed_to_<kind>"]`` of the ``records`` batch."""
        kind, value = classify(data, self.limits)
        if kind == "cloudtrail":
            self.ct_events.extend(value)
            self.ct_pos.extend([i] * len(value))
        elif kind == "logs":
            self.logs.origin = origin
            logs_files.add_payload(self.logs, None, value)
            self.logs.origin = self.origin
        elif kind == "metrics":
            self.metrics.origin = origin
            s = _Series(self.metrics, {})
            for doc in documents(value, self.limits):
                if doc.error is not None:
                    self.metrics.reject(doc.line, doc.error, doc.raw)
                if doc.value is not None:
                    metric_value(s, doc.line, doc.value, doc.first)
            self.metrics.origin = self.origin
        else:
            return kind
        self.records.skip(f"routed_to_{kind}")
        return kind

    def batches(self) -> Iterator[Batch]:
        if self.ct_events:
            table, rej = events_to_table(self.ct_events, self.origin, positions=self.ct_pos)
            yield Batch("cloudtrail", table, self.origin, rej)
        for buf in (self.logs, self.metrics):
            if not buf.empty():
                yield buf.flush()
        if not self.records.empty():
            yield self.records.flush()


def route_table(table: pa.Table, origin: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Route the rows of a ``records`` table (one shard's records from a stream) one by one.

    CloudTrail, CloudWatch Logs and Metric Streams payloads become rows of their own tables
    (routed rows are named ``<origin>/<sequenceNumber>[:line]`` in ``_wl_origin``, so a re-read
    names them the same); every other row is passed on unchanged in a ``records`` batch, and
    each routed row is counted in ``skipped["routed_to_<table>"]``.
    """
    router = _Router(origin, 0, {}, limits)
    keep = [router.route(i, data, f"{origin}/{seq}") == "records"
            for i, (data, seq) in enumerate(zip(table.column("data").to_pylist(),
                                                table.column("sequenceNumber").to_pylist()))]
    rest = table.filter(pa.array(keep, pa.bool_())) if not all(keep) else table
    for b in router.batches():
        if b.table_name == "records":  # only skip counts: the kept rows go with them
            yield Batch("records", rest, origin, skipped=b.skipped, raw_bytes=rest.column("data").nbytes)
            rest = rest.slice(0, 0)
        else:
            yield b
    if rest.num_rows:
        yield Batch("records", rest, origin, raw_bytes=rest.column("data").nbytes)


def _value(router: _Router, pos: int | None, v: Any, first: int = 0) -> None:
    items = v.get("Records") if isinstance(v, dict) else v if isinstance(v, list) else None
    if not isinstance(items, list):
        router.records.reject(pos, "not Kinesis records (get-records output or a Lambda Kinesis event)", v)
        return
    for i, rec in enumerate(items, start=first):
        lam = isinstance(rec, dict) and "kinesis" in rec
        router.record(i if pos is None else pos, rec, lam)


def read(decoded: Iterable[Decoded], *, limits: Limits = DEFAULT_LIMITS, **options: Any) -> Iterator[Batch]:
    """Record batches (and routed cloudtrail/logs/metrics batches) for every decoded unit."""
    for dec in decoded:
        router = _Router(dec.unit.origin, dec.raw_bytes, options, limits)
        reported = dec.problem is None
        with no_gc():
            for doc in documents(dec.data, limits):
                if doc.error is not None:
                    router.records.reject(doc.line, doc.error if reported else f"{dec.problem}; {doc.error}",
                                          doc.raw)
                    reported = True
                if doc.value is not None:
                    _value(router, doc.line, doc.value, doc.first)
        if not reported:  # unreadable, or damaged storage that happened to end between two records
            router.records.reject(None, str(dec.problem), dec.data[-200:])
        yield from router.batches()
