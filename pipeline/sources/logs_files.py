"""CloudWatch Logs data → the ``logs`` raw table (:data:`pipeline.schemas.LOGS`).

Recognised by content:

* subscription-filter payloads ``{"messageType": "DATA_MESSAGE", "owner", "logGroup",
  "logStream", "subscriptionFilters", "logEvents": […]}`` — gzip (also several gzip members
  concatenated, as Firehose stores them), base64 of gzip (JSON transports), or raw JSON;
* the Lambda subscriber event ``{"awslogs": {"data": "<base64 gzip>"}}``;
* ``aws logs filter-log-events`` output ``{"events": [{logStreamName, timestamp, message,
  ingestionTime, eventId}]}`` — the output names no log group: pass ``log_group``
  (``log_stream`` overrides each event's stream).

``CONTROL_MESSAGE`` payloads (destination health checks) are skipped and counted in
``Batch.skipped["control_messages"]``. Each log event is one row; its position (``_wl_origin``
``file:N``) is its 0-based index among the log events of the file, over all payloads in it.
Rejected: a log event without ``id``/``eventId`` or ``timestamp``, a non-string ``message``, and
undecodable payloads.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from pipeline.sources.base import Batch
from pipeline.sources.conform import Bad, no_gc, parse_ts
from pipeline.sources.jsondocs import documents, head
from pipeline.sources.limits import DEFAULT_LIMITS, Limits
from pipeline.sources.locations import Decoded, gunzip
from pipeline.sources.rows import RowBuffer

SOURCE = "logs"
OPTIONS = ("log_group", "log_stream")
_B64 = re.compile(rb"[A-Za-z0-9+/=\s]+")
_WS = re.compile(rb"[ \t\r\n]*")


def decode_payload(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, str | None]:
    """Undo base64 and gzip layers (in either order, as transports stack them); gzip output is
    capped at ``limits.max_object_bytes``."""
    for _ in range(3):
        first = head(data)
        start = _WS.match(data).end()  # type: ignore[union-attr]
        if data[start:start + 2] == b"\x1f\x8b":
            data, problem = gunzip(data[start:], limits.max_object_bytes)
            if problem:
                return data, problem
            continue
        if first in (b"{", b"[", b""):
            break
        stripped = data.strip()
        if _B64.fullmatch(stripped):
            try:
                data = base64.b64decode(stripped, validate=False)
                continue
            except (binascii.Error, ValueError):
                return data, "not valid base64"
        break
    return data, None


def _ts(v: Any, field: str) -> Any:
    return v if v.__class__ is int and v >= 10**11 else parse_ts(v, field)


def add_payload(buf: RowBuffer, pos: int | None, p: dict[str, Any]) -> None:
    """Rows of one subscription payload (DATA_MESSAGE) into ``buf``; CONTROL_MESSAGE is counted."""
    kind = p.get("messageType")
    if kind == "CONTROL_MESSAGE":
        buf.skip("control_messages")
        return
    events = p.get("logEvents")
    if kind != "DATA_MESSAGE" or not isinstance(events, list):
        buf.reject(pos, f"unknown subscription payload (messageType {kind!r})", p, "messageType")
        return
    for e in events:
        where = buf.next_index()
        try:
            if not isinstance(e, dict):
                raise Bad(None, "log event is not an object")
            if not isinstance(e.get("message"), str):
                raise Bad("message", "log event message must be a string")
            if e.get("id") in (None, ""):
                raise Bad("id", "log event without id")
            row = {"owner": p.get("owner"), "logGroup": p.get("logGroup"), "logStream": p.get("logStream"),
                   "id": str(e["id"]), "timestamp": _ts(e.get("timestamp"), "timestamp"), "message": e["message"],
                   "ingestionTime": None}
        except Bad as bad:
            buf.reject(where, bad.reason, e, bad.field)
            continue
        buf.add(row, where, e)


def _filter_events(buf: RowBuffer, v: dict[str, Any], opts: dict[str, Any]) -> None:
    group = opts.get("log_group")
    if not group:
        buf.reject(None, "filter-log-events output names no log group: pass the log_group option",
                   {"events": len(v["events"])}, "log_group")
        return
    for i, e in enumerate(v["events"]):
        try:
            if not isinstance(e, dict):
                raise Bad(None, "event is not an object")
            if not isinstance(e.get("message"), str):
                raise Bad("message", "event message must be a string")
            if e.get("eventId") in (None, ""):
                raise Bad("eventId", "event without eventId")
            ing = e.get("ingestionTime")
            row = {"owner": None, "logGroup": group, "logStream": opts.get("log_stream") or e.get("logStreamName"),
                   "id": str(e["eventId"]), "timestamp": _ts(e.get("timestamp"), "timestamp"),
                   "message": e["message"], "ingestionTime": None if ing is None else _ts(ing, "ingestionTime")}
        except Bad as bad:
            buf.reject(i, bad.reason, e, bad.field)
            continue
        buf.add(row, i, e)


def _value(buf: RowBuffer, pos: int | None, v: Any, opts: dict[str, Any]) -> None:
    if isinstance(v, dict) and "messageType" in v:
        add_payload(buf, pos, v)
    elif isinstance(v, dict) and isinstance(v.get("awslogs"), dict):
        data, problem = decode_payload(str(v["awslogs"].get("data", "")).encode())
        try:
            inner = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            buf.reject(pos, f"awslogs.data is not a subscription payload: {problem or exc}", v, "awslogs.data")
            return
        _value(buf, pos, inner, opts)
    elif isinstance(v, dict) and isinstance(v.get("events"), list):
        _filter_events(buf, v, opts)
    elif isinstance(v, list):
        for i, item in enumerate(v):
            _value(buf, i if pos is None else pos, item, opts)
    else:
        buf.reject(pos, "not CloudWatch Logs data (subscription payload, awslogs event or filter-log-events)", v)


def read_bytes(buf: RowBuffer, data: bytes, opts: dict[str, Any], problem: str | None = None,
               limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Rows of one decoded unit (or Kinesis payload) into ``buf``; yields full batches."""
    data, p2 = decode_payload(data, limits)
    problem = problem or p2
    if problem and not data.strip():
        buf.reject(None, problem)
        return
    reported = problem is None
    with no_gc():
        for doc in documents(data, limits):
            if doc.error is not None:
                buf.reject(doc.line, doc.error if reported else f"{problem}; {doc.error}", doc.raw)
                reported = True
            if doc.value is not None:
                _value(buf, doc.line, doc.value, opts)
            yield from buf.batches()
    if not reported:  # damaged storage that happened to end between two records
        buf.reject(None, str(problem), data[-200:])


def read(decoded: Iterable[Decoded], *, limits: Limits = DEFAULT_LIMITS, **options: Any) -> Iterator[Batch]:
    """Log batches for every decoded unit."""
    for dec in decoded:
        buf = RowBuffer(SOURCE, dec.unit.origin, dec.raw_bytes)
        yield from read_bytes(buf, dec.data, options, dec.problem, limits)
        yield from buf.batches(final=True)
