"""CloudTrail events → the ``cloudtrail`` raw table (:data:`pipeline.schemas.CLOUDTRAIL`).

:func:`events_to_table` is columnar: each column is built by one comprehension over the parsed
event dicts and handed to Arrow in one call; only when Arrow refuses a column does a per-event
slow path (:mod:`pipeline.sources.conform`) find and reject the offending events.

Guarantees of the conversion:

* every schema column is present with its exact type; free-form fields
  (:data:`~pipeline.schemas.CLOUDTRAIL_JSON_FIELDS`) and
  ``userIdentity.sessionContext.webIdFederationData`` are compact JSON text; JSON ``null`` and
  an absent field both become SQL NULL;
* every field the schema does not name — top-level or inside ``userIdentity`` /
  ``tlsDetails`` — is kept in ``_wl_extra`` as a JSON object of the same shape, so nothing is
  lost (``{"newField": 1, "userIdentity": {"newSub": "x"}}``);
* ``_wl_origin`` is ``<origin>:<position>`` (array index, or line for NDJSON);
  ``_wl_ingest_time`` is left NULL for the loader;
* kept as they are: any ``sourceIPAddress`` text (AWS writes service names such as
  ``backup.amazonaws.com`` and ``AWS Internal`` there, and the real Stratus data has IPs with
  leading zeros such as ``035.249.253.232``), unknown ``eventVersion`` values, unknown event
  types and booleans/numbers in string fields (stored as their JSON text);
* rejected, each with the field and a reason: a record that is not a JSON object, a missing or
  unparseable ``eventTime`` (it decides the partition), a missing ``eventID`` (the record key),
  an object or array where the schema has a string or boolean, a non-object ``userIdentity``
  or ``tlsDetails``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS, PREFIX, TLS_DETAILS, TS, USER_IDENTITY
from pipeline.sources.base import Rejection
from pipeline.sources.conform import MAX_TEXT_DEPTH, Bad, conform_record, dumps, no_gc, parse_ts, raw_bytes
from pipeline.timeutil import iso

SOURCE = "cloudtrail"
REQUIRED = ("eventTime", "eventID")
_EXTRA, _ORIGIN, _INGEST = f"{PREFIX}extra", f"{PREFIX}origin", f"{PREFIX}ingest_time"
_FIELDS = [f for f in CLOUDTRAIL if not f.name.startswith(PREFIX)]
KNOWN = frozenset(f.name for f in _FIELDS)
_JSON = frozenset(CLOUDTRAIL_JSON_FIELDS)
_BOOL = tuple(f.name for f in _FIELDS if pa.types.is_boolean(f.type))
_STR = tuple(f.name for f in _FIELDS if pa.types.is_string(f.type) and f.name not in _JSON)
_WEBID = "webIdFederationData"
_SLOW_JSON = _JSON | {f"userIdentity.sessionContext.{_WEBID}"}
_SLOW_SKIP = _JSON | {"eventTime"}  # any JSON fits a JSON field; eventTime is parsed separately


@functools.lru_cache(maxsize=64)
def _names(t: pa.DataType) -> frozenset[str]:
    return frozenset(t.field(i).name for i in range(t.num_fields))


_EMPTY: dict[str, Any] = {}


def _column(dicts: Sequence[dict[str, Any]], name: str) -> list[Any]:
    """``[d.get(name) for d in dicts]``, iterated in C (``map`` over ``dict.get``)."""
    return list(map(dict.get, dicts, itertools.repeat(name, len(dicts))))


def _plain(typ: pa.DataType) -> pa.DataType:
    """``typ`` without ``webIdFederationData`` (JSON text, built apart): the type Arrow converts
    the event dicts to in one call."""
    if not pa.types.is_struct(typ):
        return typ
    return pa.struct([pa.field(f.name, _plain(f.type)) for f in typ if f.name != _WEBID])


_CONVERT = pa.struct([pa.field(f.name, pa.string() if f.name == "eventTime" else _plain(f.type))
                      for f in _FIELDS if f.name not in _JSON])
_CONVERT_NAMES = [f.name for f in _CONVERT]
_DICT_OR_NONE = frozenset({dict, type(None)})


def _extras(objs: list[Any], typ: pa.DataType, path: tuple[str, ...],
            extra: dict[int, dict[str, Any]], seen: dict[tuple[str, ...], list[Any]]) -> None:
    """Check that every non-None value is an object and collect members ``typ`` does not name
    into ``extra`` under ``path``, recursing into present struct children (the order members
    reach ``extra`` is fixed: a struct's own, then its children's in field order). ``seen`` gets
    each visited struct's values (``{}`` for None) by path."""
    if not set(map(type, objs)) <= _DICT_OR_NONE:
        raise TypeError(f"{'.'.join(path)} is not an object")
    dicts = [o for o in objs if o is not None]
    present: set[str] = set().union(*dicts) if dicts else set()
    known = _names(typ)
    if not present <= known:
        for i, o in enumerate(objs):
            if o is not None and not o.keys() <= known:
                node = extra.setdefault(i, {})
                for p in path:
                    node = node.setdefault(p, {})
                node.update((k, v) for k, v in o.items() if k not in known)
    full = objs if len(dicts) == len(objs) else [_EMPTY if o is None else o for o in objs]
    seen[path] = full
    for f in typ:
        if pa.types.is_struct(f.type) and f.name in present:
            _extras(_column(full, f.name), f.type, (*path, f.name), extra, seen)


def _webid(contexts: list[Any] | None, n: int) -> pa.Array:
    """``userIdentity.sessionContext.webIdFederationData`` as JSON text (a string stays as is),
    from the ``sessionContext`` objects (``{}`` for none); None when no event has one."""
    if contexts is None:
        return pa.nulls(n, pa.string())
    vals = _column(contexts, _WEBID)
    try:
        out = [v if v is None or v.__class__ is str else orjson.dumps(v) for v in vals]
    except TypeError:  # what orjson refuses (huge ints): the stdlib
        out = [v if v is None or v.__class__ is str else dumps(v) for v in vals]
    return pa.array(out, type=pa.string())


def _with_webid(arr: pa.StructArray, typ: pa.DataType, webid: pa.Array) -> pa.Array:
    """Rebuild ``arr`` (converted with :func:`_plain` types) as ``typ``, inserting ``webid``."""
    children = []
    fields_ = arr.flatten()
    j = 0
    for f in typ:
        if f.name == _WEBID:
            children.append(webid)
            continue
        child = fields_[j]
        j += 1
        if pa.types.is_struct(f.type) and child.type != f.type:
            child = _with_webid(child, f.type, webid)
        children.append(child)
    mask = arr.is_null() if arr.null_count else None
    return pa.StructArray.from_arrays(children, fields=list(typ), mask=mask)


def _fast(events: Sequence[dict[str, Any]], origins: list[str]) -> pa.Table:
    """Build the table with one Arrow conversion of the event dicts (every column but the JSON
    text ones, which orjson writes); raises on any value Arrow refuses."""
    n = len(events)
    if not set(map(type, events)) <= {dict}:
        raise TypeError("record is not a JSON object")
    present: set[str] = set().union(*events) if events else set()
    extra: dict[int, dict[str, Any]] = {}
    seen: dict[tuple[str, ...], list[Any]] = {}
    for name, typ in (("userIdentity", USER_IDENTITY), ("tlsDetails", TLS_DETAILS)):
        if name in present:
            _extras(_column(events, name), typ, (name,), extra, seen)
    conv = pa.array(events, type=_CONVERT) if n else pa.nulls(0, _CONVERT)
    cols: dict[str, pa.Array] = dict(zip(_CONVERT_NAMES, conv.flatten()))
    for name in _JSON:
        cols[name] = (pa.array([None if v is None else orjson.dumps(v) for v in _column(events, name)],
                               type=pa.string()) if name in present else pa.nulls(n, pa.string()))
    cols["eventTime"] = cols["eventTime"].cast(TS)
    ui = cols["userIdentity"]
    cols["userIdentity"] = _with_webid(ui, USER_IDENTITY,
                                       _webid(seen.get(("userIdentity", "sessionContext")), n))
    if not present <= KNOWN:
        for i, e in enumerate(events):
            if not e.keys() <= KNOWN:
                extra.setdefault(i, {}).update((k, v) for k, v in e.items() if k not in KNOWN)
    ext: list[bytes | None] = [None] * n
    for i, x in extra.items():
        ext[i] = dumps(x)
    cols[_EXTRA] = pa.array(ext, type=pa.string())
    cols[_ORIGIN] = pa.array(origins, type=pa.string())
    cols[_INGEST] = pa.nulls(n, type=TS)
    return pa.Table.from_arrays([cols[f.name] for f in CLOUDTRAIL], schema=CLOUDTRAIL)


def _slow(events: Sequence[Any], positions: list[int], origin: str,
          rejections: list[Rejection]) -> tuple[list[dict[str, Any]], list[int]]:
    """Conform each event; reject the ones that cannot fit. Returns the kept events and positions."""
    kept, kept_pos = [], []
    for e, p in zip(events, positions):
        try:
            fixed = conform_record(e, CLOUDTRAIL, _SLOW_JSON, skip=_SLOW_SKIP)
            if fixed.get("eventTime") is not None:
                fixed["eventTime"] = iso(parse_ts(fixed["eventTime"], "eventTime"))
        except Bad as bad:
            rejections.append(Rejection(SOURCE, origin, p, bad.field, bad.reason, raw_bytes(e)))
            continue
        kept.append(fixed)
        kept_pos.append(p)
    return kept, kept_pos


def events_to_table(events: Sequence[Any], origin: str, *,
                    positions: Sequence[int] | None = None) -> tuple[pa.Table, list[Rejection]]:
    """Convert parsed CloudTrail event dicts into a table of the exact ``cloudtrail`` schema.

    Args:
        events: parsed events (dicts as in a ``Records`` array); not modified.
        origin: file or object they came from; ``_wl_origin`` = ``<origin>:<position>``.
        positions: each event's array index or line (default: 0, 1, 2, …).

    Returns:
        The table (rows in input order) and one :class:`Rejection` per event that could not be
        kept; ``len(events) == table.num_rows + len(rejections)``. Never raises on bad data.
    """
    with no_gc():
        return _events_to_table(events, origin, positions)


def _events_to_table(events: Sequence[Any], origin: str,
                     positions: Sequence[int] | None) -> tuple[pa.Table, list[Rejection]]:
    pos = list(positions) if positions is not None else list(range(len(events)))
    rejections: list[Rejection] = []
    evs: Sequence[Any] = events
    try:
        table = _fast(evs, [f"{origin}:{p}" for p in pos])
    except (pa.ArrowInvalid, pa.ArrowTypeError, AttributeError, TypeError, ValueError):
        evs, pos = _slow(events, pos, origin, rejections)
        try:
            table = _fast(evs, [f"{origin}:{p}" for p in pos])
        except (pa.ArrowInvalid, pa.ArrowTypeError, AttributeError, TypeError, ValueError):
            table, evs, pos = _one_by_one(evs, pos, origin, rejections)
    return _require(table, evs, pos, origin, rejections), sorted(rejections, key=_rej_key)


def _rej_key(r: Rejection) -> int:
    return r.line if r.line is not None else -1


def _one_by_one(events: Sequence[Any], positions: list[int], origin: str,
                rejections: list[Rejection]) -> tuple[pa.Table, list[Any], list[int]]:
    """Last resort: convert each event alone, rejecting those Arrow still refuses."""
    parts, kept, kept_pos = [], [], []
    for e, p in zip(events, positions):
        try:
            parts.append(_fast([e], [f"{origin}:{p}"]))
            kept.append(e)
            kept_pos.append(p)
        except (pa.ArrowInvalid, pa.ArrowTypeError, AttributeError, TypeError, ValueError) as exc:
            reason = f"cannot convert: {exc}"
            if "Recursion limit" in reason:  # orjson's writer: the JSON text cannot be stored
                reason = f"a value is nested deeper than {MAX_TEXT_DEPTH} levels"
            rejections.append(Rejection(SOURCE, origin, p, None, reason, raw_bytes(e)))
    table = pa.concat_tables(parts) if parts else CLOUDTRAIL.empty_table()
    return table, kept, kept_pos


def _require(table: pa.Table, events: Sequence[Any], positions: list[int], origin: str,
             rejections: list[Rejection]) -> pa.Table:
    """Reject rows whose required fields are null; return the rest."""
    missing = None
    for name in REQUIRED:
        m = pc.is_null(table.column(name))
        missing = m if missing is None else pc.or_(missing, m)
    if missing is None or not pc.any(missing).as_py():
        return table
    flags = missing.to_pylist()
    for i, bad in enumerate(flags):
        if bad:
            e = events[i]
            field = next(n for n in REQUIRED if e.get(n) is None)
            reason = f"missing required field `{field}`"
            if not (e.keys() & {"eventName", "eventSource", "eventTime", "eventID"}):
                reason = "not a CloudTrail event (no eventTime, eventID, eventName or eventSource)"
            rejections.append(Rejection(SOURCE, origin, positions[i], field, reason, raw_bytes(e)))
    return table.filter(pc.invert(missing))
