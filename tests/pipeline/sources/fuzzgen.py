"""Seeded hostile inputs for every reader, each with its expected outcome known in advance.

:func:`cases` writes files of one reader kind (CloudTrail, Metric Streams / PutMetricData / CSV
metrics, CloudWatch Logs, Kinesis records) as NDJSON or one document, gzip'd or not, with a BOM
or CRLF line ends, and damages some records on purpose. The oracle comes from the damage done,
never from the readers: a record left intact, given a ``\\u0000`` escape, a duplicate key or a
300 KB string must be loaded exactly once; a record truncated, of a wrong type, with a raw
invalid UTF-8 byte, a lone surrogate escape, a raw NUL or 2,000 levels of nesting must be one
rejection. A damaged document loses nothing either: each bad element is one rejection, and a
cut document is the elements before the cut plus one rejection for the rest; in an array written
one element per line, a truncated element is one rejection and the next line goes on. Files whose gzip
stream is cut, empty files and non-JSON files have looser, still exact-where-possible oracles.

Shared by ``tests/pipeline/sources/test_fuzz_readers.py`` (seconds) and
``benchmarks/bench_hardening.py`` (a larger run).
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

GOOD = ["none"] * 6 + ["nul_escape", "dup_key", "huge"]
BAD = ["truncate", "wrong_type", "bad_utf8", "surrogate", "raw_nul", "deep"]
KINDS = ("cloudtrail", "metrics", "logs", "records", "metrics_csv")


@dataclass
class Case:
    """One input file and what reading it must give."""

    kind: str
    name: str
    data: bytes
    options: dict[str, Any] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)  # ids that must load exactly once
    rejected: int | None = 0  # exact number of rejections (None: at least one)
    exact: bool = True  # False: only "loaded ⊆ expected, nothing twice"
    records: int = 0
    notes: str = ""


def _ct(i: int, uid: str) -> dict[str, Any]:
    return {"eventVersion": "1.09", "eventTime": f"2026-11-01T08:{i % 60:02d}:00Z", "eventID": uid,
            "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "userName": f"u{i % 5}"},
            "requestParameters": {"bucketName": "b", "key": f"k{i}"}}


def _ms(i: int, uid: str) -> dict[str, Any]:
    return {"metric_stream_name": "s", "account_id": "111122223333", "region": "us-east-1", "namespace": "App",
            "metric_name": uid, "dimensions": {"Host": f"h{i % 3}"}, "timestamp": 1793520000000 + i * 60000,
            "value": {"max": 2.0, "min": 1.0, "sum": 3.0, "count": 2.0}, "unit": "Count"}


def _datum(i: int, uid: str) -> dict[str, Any]:
    return {"MetricName": uid, "Timestamp": f"2026-11-01T08:{i % 60:02d}:00Z", "Value": float(i), "Unit": "Count"}


def _log_event(i: int, uid: str) -> dict[str, Any]:
    return {"id": uid, "timestamp": 1793520000000 + i, "message": f"line {i}"}


def _filter_event(i: int, uid: str) -> dict[str, Any]:
    return {"logStreamName": "s", "timestamp": 1793520000000 + i, "message": f"line {i}", "eventId": uid}


def _kinesis(i: int, uid: str) -> dict[str, Any]:
    return {"SequenceNumber": uid, "ApproximateArrivalTimestamp": "2026-11-01T08:00:00Z",
            "Data": base64.b64encode(f"payload {i}".encode()).decode(), "PartitionKey": f"p{i % 4}"}


def _wrong(kind: str, rec: dict[str, Any]) -> dict[str, Any]:
    """A field of a type the reader must refuse (never one it converts losslessly)."""
    rec = json.loads(json.dumps(rec))
    if "eventID" in rec:
        rec["userIdentity"] = "root"
    elif "value" in rec:
        rec["value"]["sum"] = "abc"
    elif "MetricName" in rec:
        rec["Value"] = "abc"
    elif "message" in rec:
        rec["message"] = {"not": "text"}
    else:
        rec["Data"] = "!!not base64!!"
    return rec


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def _mutate(rng: random.Random, kind: str, rec: dict[str, Any], uid: str, how: str) -> tuple[bytes, str]:
    """The record's bytes after ``how``, and the id a loaded row then carries."""
    if how == "wrong_type":
        rec = _wrong(kind, rec)
    if how == "huge":
        rec = {**rec, "padding": "x" * 300_000}
    body = json.dumps(rec).encode()
    token = json.dumps(uid).encode()
    if how == "truncate":
        return body[: rng.randrange(1, len(body) - 1)], uid
    if how == "bad_utf8":
        return body.replace(token, token[:-1] + b"\xff\xfe" + b'"', 1), uid
    if how == "surrogate":
        return body.replace(token, token[:-1] + b'\\ud800"', 1), uid
    if how == "raw_nul":
        return body.replace(token, token[:-1] + b'\x00"', 1), uid
    if how == "nul_escape":
        return body.replace(token, token[:-1] + b'\\u0000x"', 1), uid + "\x00x"
    if how == "dup_key":
        return body[:-1] + b', "zz": 1, "zz": 2}', uid
    if how == "deep":
        return body[:-1] + b', "deep": ' + _deep(2000) + b"}", uid
    return body, uid


_RECORD: dict[str, Callable[[int, str], dict[str, Any]]] = {"cloudtrail": _ct, "metrics": _ms, "logs": _log_event,
                                                            "records": _kinesis}
_DOC_RECORD: dict[str, Callable[[int, str], dict[str, Any]]] = {"cloudtrail": _ct, "metrics": _datum,
                                                                "logs": _filter_event, "records": _kinesis}
_DOC_HEAD = {"cloudtrail": b'{"Records": [', "metrics": b"[", "logs": b'{"events": [', "records": b'{"Records": ['}
_DOC_TAIL = {"cloudtrail": b"]}", "metrics": b"]", "logs": b"]}", "records": b', {"SequenceNumber": null}]}'}
_DOC_OPTIONS: dict[str, dict[str, Any]] = {"metrics": {"namespace": "App"}, "logs": {"log_group": "g"}}


def _line(kind: str, body: bytes) -> bytes:
    """One NDJSON line holding one record in the reader's line format."""
    if kind == "logs":
        return (b'{"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s", '
                b'"subscriptionFilters": ["f"], "logEvents": [' + body + b"]}")
    if kind == "records":
        return b'{"Records": [' + body + b"]}"
    return body


def _finish(rng: random.Random, data: bytes, case: Case) -> Case:
    if rng.random() < 0.3:
        data = b"\xef\xbb\xbf" + data
        case.notes += " bom"
    if rng.random() < 0.5:
        data = gzip.compress(data, compresslevel=1)
        case.notes += " gzip"
    case.data = data
    return case


def _ndjson(rng: random.Random, kind: str, n: int, tag: str) -> Case:
    case = Case(kind, f"{tag}.jsonl", b"", notes="ndjson")
    crlf = rng.random() < 0.3
    lines = []
    for i in range(n):
        uid = f"{tag}-{i}"
        how = rng.choice(GOOD + BAD)
        body, got = _mutate(rng, kind, _RECORD[kind](i, uid), uid, how)
        lines.append(_line(kind, body))
        if how in BAD:
            case.rejected = (case.rejected or 0) + 1
        else:
            case.loaded.add(got)
    case.records = n
    case.notes += " crlf" if crlf else ""
    return _finish(rng, (b"\r\n" if crlf else b"\n").join(lines) + b"\n", case)


def _document(rng: random.Random, kind: str, n: int, tag: str) -> Case:
    case = Case(kind, f"{tag}.json", b"", options=dict(_DOC_OPTIONS.get(kind, {})), notes="document")
    per_line = rng.random() < 0.4  # one element per line: a truncated element is one rejection
    if per_line:
        case.notes += " per-line"
    bodies: list[bytes] = []
    good: list[str | None] = []
    for i in range(n):
        uid = f"{tag}-{i}"
        how = rng.choice(GOOD + [b for b in BAD if b != "truncate" or per_line])
        body, got = _mutate(rng, kind, _DOC_RECORD[kind](i, uid), uid, how)
        bodies.append(body)
        good.append(None if how in BAD else got)
    head = _DOC_HEAD[kind] + (b"\n" if per_line else b"")
    data = head + (b",\n" if per_line else b", ").join(bodies)
    rejected = sum(g is None for g in good)
    if kind == "records":
        rejected += 1  # the trailing record without a sequence number
    if rng.random() < 0.25 and n > 2:  # cut the document inside element `cut`
        cut = rng.randrange(1, n)
        start = len(head) + sum(len(b) + 2 for b in bodies[:cut])
        size = len(bodies[cut])  # (a truncated element may be a single byte)
        data = data[: start + (rng.randrange(1, size - 1) if size > 2 else 1)]
        rejected = sum(g is None for g in good[:cut]) + 1
        good = good[:cut]
        case.notes += f" cut@{cut}"
    else:  # (one element per line: the trailing records element on a line of its own)
        data += _DOC_TAIL[kind].replace(b", {", b",\n{", 1) if per_line else _DOC_TAIL[kind]
    case.loaded = {g for g in good if g is not None}
    case.rejected = rejected
    case.records = n
    return _finish(rng, data, case)


def _csv(rng: random.Random, n: int, tag: str) -> Case:
    case = Case("metrics", f"{tag}.csv", b"", options={"namespace": "App", "metric_name": tag}, notes="csv")
    lines = [b"timestamp,value"]
    for i in range(n):
        ts = f"2026-11-01 08:{i // 60 % 60:02d}:{i % 60:02d}".encode()
        how = rng.choice(["none"] * 5 + ["wrong_type", "bad_utf8", "raw_nul"])
        value = f"{i}.5".encode()
        if how == "wrong_type":
            value = b"abc"
        elif how == "bad_utf8":
            value = value + b"\xff"
        elif how == "raw_nul":
            value = b"\x00" + value
        lines.append(ts + b"," + value)
        if how == "none":
            case.loaded.add(f"{i}.5")
        else:
            case.rejected = (case.rejected or 0) + 1
    case.records = n
    crlf = rng.random() < 0.3
    return _finish(rng, (b"\r\n" if crlf else b"\n").join(lines) + b"\n", case)


def _special(rng: random.Random, kind: str, tag: str) -> Case:
    what = rng.choice(["empty", "garbage", "cut_gzip"])
    opts = dict(_DOC_OPTIONS.get(kind, {}))
    if what == "empty":
        return Case(kind, f"{tag}.empty", b"", opts, notes="empty")
    if what == "garbage":
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        data = data if data.lstrip()[:1] not in (b"{", b"[") else b"x" + data
        return Case(kind, f"{tag}.bin", data, opts, rejected=None, notes="garbage")
    inner = _ndjson(rng, kind, 30, tag)
    raw = inner.data if inner.data.startswith(b"\x1f\x8b") else gzip.compress(inner.data, compresslevel=1)
    cut = raw[: max(20, len(raw) * rng.randrange(30, 90) // 100)]
    return Case(kind, f"{tag}.cut.gz", cut, opts, loaded=inner.loaded, rejected=None, exact=False,
                records=inner.records, notes="cut gzip")


def cases(seed: int, files: int, records: int = 30) -> Iterator[Case]:
    """``files`` seeded cases per kind (see the module docstring)."""
    rng = random.Random(seed)
    for kind in KINDS:
        for f in range(files):
            tag = f"s{seed}{kind[:2]}{f}"
            roll = rng.random()
            if kind == "metrics_csv":
                yield _csv(rng, records, tag)
            elif roll < 0.12:
                yield _special(rng, kind, tag)
            elif roll < 0.55:
                yield _ndjson(rng, kind, records, tag)
            else:
                yield _document(rng, kind, records, tag)


ID_COLUMN = {"cloudtrail": "eventID", "metrics": "metric_name", "logs": "id", "records": "sequenceNumber"}


def check(case: Case, batches: list[Any]) -> list[str]:
    """What went wrong reading ``case`` (empty when the oracle held)."""
    problems: list[str] = []
    ids: list[str] = []
    rejections = []
    for b in batches:
        if b.table_name != ("metrics" if case.kind == "metrics_csv" else case.kind):
            problems.append(f"unexpected {b.table_name} batch")
            continue
        col = "max" if case.name.endswith(".csv") else ID_COLUMN[b.table_name]
        ids += [str(v) for v in b.table.column(col).to_pylist()]
        rejections += b.rejections
    if len(ids) != len(set(ids)):
        problems.append("a record loaded twice")
    if any(not r.reason for r in rejections):
        problems.append("a rejection without a reason")
    if case.exact:
        if set(ids) != case.loaded:
            problems.append(f"loaded {sorted(set(ids) ^ case.loaded)[:4]} differ from the valid records")
        if case.rejected is None and not rejections:
            problems.append("no rejection for a bad file")
        elif case.rejected is not None and len(rejections) != case.rejected:
            problems.append(f"{len(rejections)} rejections, expected {case.rejected}")
    else:
        if not set(ids) <= case.loaded:
            problems.append("loaded a record that was never valid")
        if not rejections:
            problems.append("no rejection for damaged input")
    return problems
