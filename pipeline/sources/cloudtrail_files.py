"""Recognise CloudTrail file layouts by content and turn them into ``cloudtrail`` batches.

Recognised, whatever the file name or extension (gzip or not):

* S3 log files ``{"Records": [event, …]}`` (position = array index);
* bare arrays of events (CloudTrail Lake / EventBridge exports; position = array index);
* NDJSON, one event per line, and concatenated or pretty-printed single events
  (position = line where the event starts);
* ``aws cloudtrail lookup-events`` output ``{"Events": [{…, "CloudTrailEvent": "<json>"}]}`` or
  an array of such items (the embedded event is parsed);
* EventBridge envelopes ``{"detail-type": "AWS API Call via CloudTrail", "detail": event}``;
* Insight events (``eventType`` ``AwsCloudTrailInsight``) like any other event;
* digest files (``digestStartTime`` + ``logFiles``): recognised and skipped, counted in
  ``Batch.skipped["digest_files"]``;
* CloudTrail delivered to CloudWatch Logs (the trail's log group), each log event's ``message``
  one event: subscription-filter payloads ``{"messageType": "DATA_MESSAGE", "logEvents": […]}``
  (as a subscription writes them to Kinesis, Firehose or Lambda — gzip, several gzip members,
  base64), the Lambda subscriber event ``{"awslogs": {"data": …}}`` and ``aws logs
  filter-log-events`` output ``{"events": […]}`` (position = the log event's index among the
  file's log events, or in ``events``); ``CONTROL_MESSAGE`` payloads are counted in
  ``Batch.skipped["control_messages"]``, a message that is not JSON is rejected naming it.

Anything else becomes a rejection with the file, position and reason; a damaged file keeps the
events before the damage (see :mod:`pipeline.sources.jsondocs`).

A whole document that fits the schema exactly (the usual S3 log file) is first offered to the
native typed path (:mod:`pipeline.sources.cloudtrail_typed`), which gives the same table at a
fifth of the CPU; every other document, and every file it refuses, takes the general path here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from pipeline.sources import cloudtrail_typed
from pipeline.sources.base import Batch, Rejection
from pipeline.sources.cloudtrail import SOURCE, events_to_table
from pipeline.sources.conform import no_gc, raw_bytes
from pipeline.sources.jsondocs import documents
from pipeline.sources.limits import DEFAULT_LIMITS, Limits
from pipeline.sources.locations import Decoded
from pipeline.sources.logs_files import decode_payload

BATCH_SIZE = 100_000


def is_digest(value: Any) -> bool:
    """True for a CloudTrail digest file body (log file integrity validation)."""
    return isinstance(value, dict) and "digestStartTime" in value and "logFiles" in value


class _FileState:
    """Accumulates one file's events and rejections; flushes batches of ``batch_size``."""

    def __init__(self, dec: Decoded, batch_size: int):
        self.origin = dec.unit.origin
        self.raw_bytes = dec.raw_bytes
        self.batch_size = batch_size
        self.events: list[Any] = []
        self.positions: list[int] = []
        self.rejections: list[Rejection] = []
        self.skipped: dict[str, int] = {}
        self.log_events = 0  # log events seen in CloudWatch Logs payloads (their positions)

    def reject(self, pos: int | None, reason: str, raw: bytes = b"", field: str | None = None) -> None:
        self.rejections.append(Rejection(SOURCE, self.origin, pos, field, reason, raw))

    def add(self, pos: int, event: Any) -> None:
        self.events.append(event)
        self.positions.append(pos)

    def full(self) -> bool:
        return len(self.events) >= self.batch_size

    def flush(self, final: bool = False) -> Batch | None:
        if not self.events and not self.rejections and not (final and self.skipped):
            return None
        table, rej = events_to_table(self.events, self.origin, positions=self.positions)
        rejections = sorted(self.rejections + rej, key=lambda r: -1 if r.line is None else r.line)
        batch = Batch(SOURCE, table, self.origin, rejections, dict(self.skipped), self.raw_bytes)
        self.events, self.positions, self.rejections, self.skipped = [], [], [], {}
        self.raw_bytes = 0
        return batch


def _lookup_item(st: _FileState, pos: int, item: dict[str, Any]) -> None:
    text = item.get("CloudTrailEvent")
    if not isinstance(text, str):
        st.reject(pos, "lookup-events item: `CloudTrailEvent` is not a JSON string", raw_bytes(item),
                  "CloudTrailEvent")
        return
    try:
        st.add(pos, orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        st.reject(pos, f"lookup-events item: malformed CloudTrailEvent JSON: {exc}", text.encode(),
                  "CloudTrailEvent")


def _log_message(e: Any) -> tuple[Any, str, bytes]:
    """A CloudWatch Logs log event's ``message`` parsed as JSON: ``(value, "", b"")``, or
    ``(None, reason, raw)`` when it has no string message or the message is not JSON."""
    text = e.get("message") if isinstance(e, dict) else None
    if not isinstance(text, str):
        return None, "CloudWatch Logs log event without a string `message`", raw_bytes(e)
    try:
        return orjson.loads(text), "", b""
    except orjson.JSONDecodeError as exc:
        return None, f"CloudWatch Logs message is not a CloudTrail JSON event: {exc}", text.encode()


def _message(st: _FileState, pos: int, e: Any) -> None:
    """One CloudWatch Logs log event whose ``message`` is a CloudTrail event."""
    value, reason, raw = _log_message(e)
    if reason:
        st.reject(pos, reason, raw, "message")
    else:
        _element(st, pos, value)


def _logs(st: _FileState, pos: int, value: dict[str, Any]) -> bool:
    """CloudTrail delivered through CloudWatch Logs (module docstring): its events into ``st``;
    False when ``value`` is none of those layouts."""
    kind = value.get("messageType")
    if kind == "CONTROL_MESSAGE":
        st.skipped["control_messages"] = st.skipped.get("control_messages", 0) + 1
    elif kind == "DATA_MESSAGE" and isinstance(value.get("logEvents"), list):
        for e in value["logEvents"]:
            _message(st, st.log_events, e)
            st.log_events += 1
    elif kind is not None:
        st.reject(pos, f"unknown CloudWatch Logs payload (messageType {kind!r})", raw_bytes(value), "messageType")
    elif isinstance(value.get("awslogs"), dict):
        data, problem = decode_payload(str(value["awslogs"].get("data", "")).encode())
        try:
            inner = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            inner = None
            problem = problem or str(exc)
        if not isinstance(inner, dict) or not _logs(st, pos, inner):
            st.reject(pos, f"awslogs.data is not a CloudWatch Logs payload: {problem or 'no messageType'}",
                      raw_bytes(value), "awslogs.data")
    elif isinstance(value.get("events"), list) and "eventVersion" not in value:
        for i, e in enumerate(value["events"]):
            _message(st, i, e)
    else:
        return False
    return True


def trail_log_events(payload: dict[str, Any]) -> list[Any] | None:
    """The CloudTrail events of a ``DATA_MESSAGE`` subscription payload from a trail's log group —
    every message one JSON CloudTrail event (``eventVersion``, ``eventID``, ``eventTime``) — or
    None when any message is something else (the payload is then ordinary log data)."""
    out = []
    for e in payload.get("logEvents") or ():
        event, reason, _ = _log_message(e)
        if reason or not (isinstance(event, dict) and {"eventVersion", "eventID", "eventTime"} <= event.keys()):
            return None
        out.append(event)
    return out if out and payload.get("messageType") == "DATA_MESSAGE" else None


def _element(st: _FileState, pos: int, value: Any) -> None:
    """One array element or line: an event, a lookup-events item or an EventBridge envelope."""
    if isinstance(value, dict):
        if "CloudTrailEvent" in value and "eventVersion" not in value:
            _lookup_item(st, pos, value)
            return
        if "detail-type" in value and isinstance(value.get("detail"), dict):
            st.add(pos, value["detail"])
            return
        if ("messageType" in value or "awslogs" in value) and _logs(st, pos, value):
            return
    st.add(pos, value)


def _plain_events(items: list[Any]) -> bool:
    """True when :func:`_element` would add every item unchanged: all are objects and none
    is a lookup-events item, an EventBridge envelope or a CloudWatch Logs payload (checked on the
    union of their keys)."""
    if not items or set(map(type, items)) != {dict}:
        return False
    keys: set[str] = set().union(*items)
    return not keys & {"CloudTrailEvent", "detail-type", "messageType", "awslogs"}


def _value(st: _FileState, line: int | None, value: Any, first: int = 0) -> Iterator[Batch]:
    """Expand one top-level JSON value; yield batches whenever ``batch_size`` is reached.
    ``first`` is the array index of the first element (elements after a rejected one)."""
    items: list[Any] | None = None
    if isinstance(value, dict):
        if isinstance(value.get("Records"), list):
            items = value["Records"]
        elif isinstance(value.get("Events"), list) and "eventVersion" not in value:
            items = value["Events"]
        elif is_digest(value):
            st.skipped["digest_files"] = st.skipped.get("digest_files", 0) + 1
            return
        elif _logs(st, line if line is not None else first, value):
            yield from _flush_full(st)
            return
    elif isinstance(value, list):
        items = value
    if items is None:
        _element(st, line if line is not None else 0, value)
    elif _plain_events(items):
        # every item is an event as it is: add them in slices that end where a batch fills up,
        # exactly where the per-item loop below would flush
        i, n = 0, len(items)
        while i < n:
            k = min(n - i, max(st.batch_size - len(st.events), 1))
            st.events.extend(items[i:i + k])
            st.positions.extend(range(first + i, first + i + k) if line is None else itertools.repeat(line, k))
            i += k
            yield from _flush_full(st)
    else:
        for i, item in enumerate(items):
            _element(st, first + i if line is None else line, item)
            yield from _flush_full(st)
    yield from _flush_full(st)


def _flush_full(st: _FileState) -> Iterator[Batch]:
    """The batch of ``st``'s events once it holds ``batch_size`` of them."""
    if st.full():
        b = st.flush()
        if b is not None:
            yield b


def read_file(dec: Decoded, *, batch_size: int = BATCH_SIZE, limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of one decoded file (at least one batch if the file had anything to report)."""
    with no_gc():
        yield from _read_file(dec, batch_size, limits)


def _read_file(dec: Decoded, batch_size: int, limits: Limits) -> Iterator[Batch]:
    if dec.problem is None:
        table = cloudtrail_typed.decode(dec.data, dec.unit.origin)
        if table is not None:  # the typed path loads it exactly as the general path below would
            for start in range(0, table.num_rows, batch_size):
                yield Batch(SOURCE, table.slice(start, batch_size), dec.unit.origin,
                            raw_bytes=dec.raw_bytes if start == 0 else 0)
            return
    st = _FileState(dec, batch_size)
    problem_reported = dec.problem is None
    for doc in documents(dec.data, limits):
        if doc.error is not None:
            reason = doc.error
            if not problem_reported:
                reason, problem_reported = f"{dec.problem}; {reason}", True
            if doc.partial:
                reason = f"{reason} (kept the {doc.salvaged} complete records before it)"
            st.reject(doc.line, reason, doc.raw)
        if doc.value is not None:
            yield from _value(st, doc.line, doc.value, doc.first)
    if not problem_reported:
        st.reject(None, dec.problem or "damaged input", dec.data[-200:])
    b = st.flush(final=True)
    if b is not None:
        yield b


def read(decoded: Iterable[Decoded], *, batch_size: int = BATCH_SIZE,
         limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """CloudTrail batches for every decoded unit, in order."""
    for dec in decoded:
        yield from read_file(dec, batch_size=batch_size, limits=limits)
