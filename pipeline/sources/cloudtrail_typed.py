"""Typed fast path for whole CloudTrail documents (``{"Records": [...]}`` or a bare array).

The document goes straight from bytes to the columns of the ``cloudtrail`` schema
(:data:`pipeline.schemas.CLOUDTRAIL`) through :mod:`pipeline.sources.jsoncols` (native, no
Python object per value): strings and booleans type-checked while parsing, free-form fields
(:data:`~pipeline.schemas.CLOUDTRAIL_JSON_FIELDS` and ``webIdFederationData``) written as compact
JSON text, any field the schema does not name refused. About 5× less CPU than orjson dicts →
Arrow (:func:`pipeline.sources.cloudtrail.events_to_table`, the general path).

:func:`decode` guarantees: it returns a table only when the general path would load the
document in full with no rejection and no ``_wl_extra`` — every element an event object, only
schema fields, every value of the schema's JSON type, ``eventTime`` parseable and ``eventID``
present everywhere, valid UTF-8 — and then the table equals the general path's, row for row, in
every column, with one nuance: free-form JSON text keeps the source's spelling of numbers
(``1.0e5`` stays ``1.0e5``, a 30-digit integer keeps its digits where orjson would make it a
float), so the text may differ while the JSON value is the same. In every other case it returns
None and the caller takes the general path, which reports rejections and extras as always.
"""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS, PREFIX, TS
from pipeline.sources.conform import MAX_TEXT_DEPTH
from pipeline.sources.jsoncols import UNAVAILABLE, Schema
from pipeline.sources.jsondocs import scan

_FIELDS = [pa.field(f.name, pa.string()) if f.name == "eventTime" else f  # parsed after: cast
           for f in CLOUDTRAIL if not f.name.startswith(PREFIX)]
_WEBID = "userIdentity.sessionContext.webIdFederationData"
# webIdFederationData: the general path stores a JSON string there unquoted, so strings refuse
_SCHEMA = None if UNAVAILABLE else Schema(_FIELDS, json_text=[*CLOUDTRAIL_JSON_FIELDS, _WEBID],
                                          not_strings=[_WEBID])
_warned = False
_REQUIRED = ("eventTime", "eventID")


def decode(data: bytes, origin: str) -> pa.Table | None:
    """The ``cloudtrail`` table of a whole-document CloudTrail file, or None when the general
    path must handle it (see the module docstring for exactly when)."""
    return decode_why(data, origin)[0]


def decode_why(data: bytes, origin: str) -> tuple[pa.Table | None, str]:
    """:func:`decode`, plus why the typed path refused (``""`` when it did not). Without the
    native module every file is refused (one warning line per process, on stderr)."""
    global _warned
    if _SCHEMA is None:
        if not _warned:
            _warned = True
            print(f"watchlake: warning: {UNAVAILABLE}; CloudTrail files take the general path "
                  "(same table, about 5x the CPU)", file=sys.stderr)
        return None, UNAVAILABLE
    arrays = _SCHEMA.read(data, "Records")
    if isinstance(arrays, str):
        return None, arrays
    cols = {f.name: a for f, a in zip(_FIELDS, arrays)}
    for name in _REQUIRED:
        if cols[name].null_count:
            return None, f"`{name}` is missing in some event"
    try:
        cols["eventTime"] = cols["eventTime"].cast(TS)
    except pa.ArrowInvalid as exc:
        return None, f"`eventTime` needs the general parser: {exc}"
    deep = _too_deep(cols) if data.count(b"[") + data.count(b"{") > MAX_TEXT_DEPTH else ""
    if deep:
        return None, deep
    n = len(cols["eventID"])
    cols[f"{PREFIX}extra"] = pa.nulls(n, pa.string())
    cols[f"{PREFIX}origin"] = _origins(origin, n)
    cols[f"{PREFIX}ingest_time"] = pa.nulls(n, TS)
    return pa.Table.from_arrays([cols[f.name] for f in CLOUDTRAIL], schema=CLOUDTRAIL), ""


def _too_deep(cols: dict[str, pa.Array]) -> str:
    """Why a free-form value cannot be stored as the general path stores it (nested deeper than
    :data:`~pipeline.sources.conform.MAX_TEXT_DEPTH`), or ``""``. Only values long enough to
    hold that many brackets are scanned."""
    texts = [cols[name] for name in CLOUDTRAIL_JSON_FIELDS]
    ui = cols["userIdentity"]
    ctx = ui.field("sessionContext") if isinstance(ui, pa.StructArray) else None
    if ctx is not None:
        texts.append(ctx.field("webIdFederationData"))
    for arr in texts:
        longest = pc.max(pc.binary_length(arr)).as_py()
        if longest is None or longest <= 2 * MAX_TEXT_DEPTH:
            continue
        long = arr.filter(pc.fill_null(pc.greater(pc.binary_length(arr), 2 * MAX_TEXT_DEPTH), False))
        for v in long.to_pylist():
            if v.lstrip()[:1] in ("{", "[") and scan(v.encode(), 0, MAX_TEXT_DEPTH)[1] > MAX_TEXT_DEPTH:
                return f"a free-form value is nested deeper than {MAX_TEXT_DEPTH} levels"
    return ""


def _origins(origin: str, n: int) -> pa.Array:
    """``<origin>:0`` … ``<origin>:n-1``."""
    positions = pa.array(range(n), type=pa.int64()).cast(pa.string())
    return pc.binary_join_element_wise(pa.scalar(f"{origin}:"), positions, "")
