"""Typed fast path for whole CloudTrail documents (``{"Records": [...]}`` or a bare array).

msgspec decodes the document straight into structs generated from the ``cloudtrail`` schema
(:data:`pipeline.schemas.CLOUDTRAIL`): string and boolean fields are type-checked while parsing,
free-form fields (:data:`~pipeline.schemas.CLOUDTRAIL_JSON_FIELDS`, ``webIdFederationData``)
are kept as their raw JSON text without being parsed into dicts and written back, and any field
the schema does not name is an error. The structs then become Arrow columns by transposing
tuples, one ``pa.array`` call per column. About 2× less CPU than orjson dicts → Arrow.

:func:`decode` guarantees: it returns a table only when the document is one the general path
(:func:`pipeline.sources.cloudtrail.events_to_table` over parsed dicts) would load in full with
no rejection and no ``_wl_extra`` — every element an event object, only schema fields, every
value of the schema's JSON type, ``eventTime`` parseable and ``eventID`` present everywhere, valid
UTF-8 — and then the table equals the general path's, row for row, in every column but one
nuance: free-form JSON text is the source's own text with insignificant whitespace removed, so a
string or number may be *spelled* differently (``"\\u00e9"`` vs ``"é"``, ``1.0e5`` vs
``100000.0``) while the JSON value is the same. In every other case it returns None and the
caller takes the general path, which reports rejections and extras as always.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
from msgspec.structs import astuple

from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS, PREFIX, TS

_NULL = msgspec.Raw(b"null")
_RAW_FIELDS = frozenset(CLOUDTRAIL_JSON_FIELDS) | {"webIdFederationData"}
_FIELDS = [f for f in CLOUDTRAIL if not f.name.startswith(PREFIX)]
_WHITESPACE = (b" ", b"\n", b"\r", b"\t")
_EMPTY: dict[pa.DataType, Any] = {}  # struct type -> its all-None instance


def _struct_class(name: str, fields: list[pa.Field]) -> type:
    """A msgspec struct for Arrow ``fields``: str/bool as ``T | None``, nested structs as
    ``Struct | None``, raw JSON fields as :class:`msgspec.Raw` (``null`` when absent)."""
    spec: list[tuple[str, Any, Any]] = []
    for f in fields:
        if f.name in _RAW_FIELDS:
            spec.append((f.name, msgspec.Raw, _NULL))
        elif pa.types.is_struct(f.type):
            spec.append((f.name, _struct_class(f.name, list(f.type)) | None, None))
        elif pa.types.is_boolean(f.type):
            spec.append((f.name, bool | None, None))
        else:
            spec.append((f.name, str | None, None))
    cls = msgspec.defstruct(f"CloudTrail_{name}", spec, forbid_unknown_fields=True, gc=False)
    if name != "event":
        _EMPTY[pa.struct(fields)] = cls()
    return cls


_Event = _struct_class("event", _FIELDS)
_File = msgspec.defstruct("CloudTrail_file", [("Records", list[_Event])],  # type: ignore[valid-type]
                          forbid_unknown_fields=True, gc=False)
_DECODER = msgspec.json.Decoder(_File | list[_Event])  # type: ignore[valid-type]


class _Refused(Exception):
    """The document needs the general path."""


def decode(data: bytes, origin: str) -> pa.Table | None:
    """The ``cloudtrail`` table of a whole-document CloudTrail file, or None when the general
    path must handle it (see the module docstring for exactly when)."""
    try:
        doc = _DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    events: list[Any] = doc.Records if isinstance(doc, _File) else doc  # type: ignore[attr-defined]
    if not events:
        return None
    try:
        return _table(events, origin)
    except (_Refused, pa.ArrowInvalid):
        return None


def _table(events: list[Any], origin: str) -> pa.Table:
    n = len(events)
    cols: dict[str, pa.Array] = {}
    for f, values in zip(_FIELDS, zip(*map(astuple, events))):
        cols[f.name] = _column(list(values), f)
    for name in ("eventTime", "eventID"):
        if cols[name].null_count:
            raise _Refused(name)
    cols[f"{PREFIX}extra"] = pa.nulls(n, pa.string())
    cols[f"{PREFIX}origin"] = pa.array([f"{origin}:{i}" for i in range(n)], type=pa.string())
    cols[f"{PREFIX}ingest_time"] = pa.nulls(n, TS)
    return pa.Table.from_arrays([cols[f.name] for f in CLOUDTRAIL], schema=CLOUDTRAIL)


def _column(values: list[Any], f: pa.Field) -> pa.Array:
    if f.name in _RAW_FIELDS:
        return _json_text(values, refuse_strings=f.name == "webIdFederationData")
    if pa.types.is_struct(f.type):
        return _struct(values, f.type)
    if f.name == "eventTime":
        return pa.array(values, type=pa.string()).cast(TS)
    return pa.array(values, type=f.type)


def _struct(values: list[Any], typ: pa.StructType) -> pa.Array:
    """Struct column; None (absent or ``null``) is a null struct, ``{}`` a struct of nulls."""
    mask = None
    if any(map(operator.is_, values, itertools.repeat(None))):
        missing = [v is None for v in values]
        mask = pa.array(missing, type=pa.bool_())
        empty = _EMPTY[typ]
        values = [empty if m else v for v, m in zip(values, missing)]
    columns = zip(*map(astuple, values)) if values else itertools.repeat((), typ.num_fields)
    children = [_column(list(c), f) for c, f in zip(columns, typ)]
    return pa.StructArray.from_arrays(children, fields=list(typ), mask=mask)


def _json_text(raws: list[msgspec.Raw], *, refuse_strings: bool) -> pa.Array:
    """Raw JSON values as compact JSON text; ``null`` → SQL NULL. With ``refuse_strings`` a JSON
    string (which the general path stores unquoted in ``webIdFederationData``) refuses the
    typed path."""
    n = len(raws)
    present = [r != _NULL for r in raws]
    kept: list[Any] = list(itertools.compress(raws, present))
    if not kept:
        return pa.nulls(n, pa.string())
    data = b"".join(kept)
    if any(w in data for w in _WHITESPACE) and not _compact(kept):
        kept = [msgspec.json.format(bytes(r), indent=-1) for r in kept]
        data = b"".join(kept)
    lengths = np.zeros(n + 1, dtype=np.int64)
    lengths[1:][np.asarray(present, dtype=bool)] = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
    offsets = np.cumsum(lengths, dtype=np.int64)
    if offsets[-1] >= 2**31:
        raise _Refused("free-form column over 2 GiB")
    if refuse_strings and (np.frombuffer(data, dtype=np.uint8)[offsets[:-1][present]] == ord('"')).any():
        raise _Refused("JSON string in webIdFederationData")
    validity = pa.array(present, type=pa.bool_()).buffers()[1] if len(kept) < n else None
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data), validity)
    arr.validate(full=True)  # UTF-8: ArrowInvalid refuses the typed path
    return arr


def _compact(kept: list[msgspec.Raw]) -> bool:
    """True when no value has whitespace outside its strings (checked in one pass)."""
    joined = b"[" + b",".join(kept) + b"]"
    return len(msgspec.json.format(joined, indent=-1)) == len(joined)
