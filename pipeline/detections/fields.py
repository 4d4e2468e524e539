"""Dotted field paths over CloudTrail events, resolved identically in Python and in DuckDB.

A path such as ``requestParameters.ipPermissions.items.ipRanges.items.cidrIp`` is resolved
against the lake schema (:data:`pipeline.schemas.CLOUDTRAIL`): struct fields are walked as
columns (``userIdentity.sessionContext.sessionIssuer.type``), and the rest of the path is walked
inside the JSON text of the column it reaches (``requestParameters``), or inside ``_wl_extra``
for fields the schema does not name. The *candidates* of a path are:

* at each step below a list, the key is looked up in every element (one level of list);
* a null or missing value gives no candidate (so "absent" and "null" are the same);
* a final list gives the list itself (as compact JSON text) **and** each non-null element;
* fields the schema does not name are read from ``_wl_extra`` in a lake row, and from the event
  itself in a raw CloudTrail dict (which has no ``_wl_extra``);
* objects and lists compare as compact JSON text (``{"a":1}``; a whole JSON column compares as
  its stored text); ``true``/``false`` and numbers as their JSON spelling; ``eventTime`` as
  ``YYYY-MM-DDTHH:MM:SSZ``.

:func:`candidates` implements this for an event dict (raw CloudTrail JSON, or a lake row whose
JSON columns are still text); :func:`sql_candidates` emits the same as a DuckDB expression. The
two are kept in lock-step and a test runs both on the same events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS, PREFIX

EXTRA = f"{PREFIX}extra"
JSON_COLUMNS = frozenset({*((c,) for c in CLOUDTRAIL_JSON_FIELDS), (EXTRA,),
                          ("userIdentity", "sessionContext", "webIdFederationData")})
VIRTUAL = {
    "@source": "'aws.' || split_part(\"eventSource\", '.', 1)",
    "@detail-type": ("CASE \"eventType\" WHEN 'AwsApiCall' THEN 'AWS API Call via CloudTrail' "
                     "WHEN 'AwsConsoleSignIn' THEN 'AWS Console Sign In via CloudTrail' "
                     "WHEN 'AwsServiceEvent' THEN 'AWS Service Event via CloudTrail' "
                     "WHEN 'AwsConsoleAction' THEN 'AWS Console Action via CloudTrail' END"),
}
"""EventBridge envelope fields derived from a CloudTrail record."""
_DETAIL_TYPES = {"AwsApiCall": "AWS API Call via CloudTrail",
                 "AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
                 "AwsServiceEvent": "AWS Service Event via CloudTrail",
                 "AwsConsoleAction": "AWS Console Action via CloudTrail"}


@dataclass(frozen=True)
class Access:
    """How to reach a path: ``kind`` is ``column`` (a stored column, maybe JSON text),
    ``json`` (keys below a JSON text column), ``virtual`` or ``none`` (cannot exist: ``reason``)."""

    path: str
    kind: str
    column: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    reason: str = ""

    @property
    def is_json_column(self) -> bool:
        return self.column in JSON_COLUMNS


def resolve(path: str) -> Access:
    """Map a dotted path onto the lake schema (never raises; unknown fields go to ``_wl_extra``)."""
    if path in VIRTUAL:
        return Access(path, "virtual")
    parts = tuple(path.split("."))
    if not path or any(p == "" for p in parts):
        return Access(path, "none", reason="empty path segment")
    fields: Any = CLOUDTRAIL
    col: list[str] = []
    for i, part in enumerate(parts):
        idx = fields.get_field_index(part)
        if idx < 0:  # not in the schema: the loader keeps such fields in _wl_extra
            return Access(path, "json", (EXTRA,), parts)
        ftype = fields.field(idx).type
        col.append(part)
        rest = parts[i + 1:]
        if pa.types.is_struct(ftype):
            if not rest:
                return Access(path, "column", tuple(col))
            fields = ftype
            continue
        if not rest:
            return Access(path, "column", tuple(col))
        if tuple(col) in JSON_COLUMNS:
            return Access(path, "json", tuple(col), rest)
        return Access(path, "none", tuple(col), rest,
                      reason=f"`{'.'.join(col)}` is a plain {ftype} value; it has no field `{rest[0]}`")
    return Access(path, "none", reason="unreachable")


# -- Python ------------------------------------------------------------------------------------

class EventView:
    """An event dict plus a cache of its parsed JSON columns (raw CloudTrail dicts or lake rows)."""

    __slots__ = ("event", "_parsed")

    def __init__(self, event: dict[str, Any]):
        self.event = event
        self._parsed: dict[tuple[str, ...], Any] = {}

    def column(self, col: tuple[str, ...]) -> Any:
        node: Any = self.event
        for part in col:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def parsed(self, col: tuple[str, ...]) -> Any:
        if col not in self._parsed:
            value = self.column(col)
            if isinstance(value, (str, bytes)):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = None
            self._parsed[col] = value
        return self._parsed[col]


def to_text(value: Any) -> str:
    """A candidate's comparable text (see the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _terminal(nodes: list[Any]) -> list[str]:
    out: list[str] = []
    for x in nodes:
        if x is None:
            continue
        out.append(to_text(x))
        if isinstance(x, list):
            out.extend(to_text(e) for e in x if e is not None)
    return out


def candidates(view: EventView, access: Access) -> list[str]:
    """The candidate texts of ``access.path`` in one event."""
    if access.kind == "column":
        value = view.column(access.column)
        if value is None:
            return []
        if access.is_json_column:
            parsed = view.parsed(access.column)
            head = value if isinstance(value, str) else to_text(parsed)
            if isinstance(parsed, list):
                return [head, *(to_text(e) for e in parsed if e is not None)]
            return [head] if parsed is not None else []
        if access.column == ("eventTime",) and isinstance(value, str):
            return [value]
        return [to_text(value)]
    if access.kind == "json":
        raw_extra = access.column == (EXTRA,) and EXTRA not in view.event
        nodes: list[Any] = [view.event if raw_extra else view.parsed(access.column)]
        for key in access.keys:
            nxt: list[Any] = []
            for x in nodes:
                if isinstance(x, list):
                    nxt.extend(e.get(key) if isinstance(e, dict) else None for e in x)
                else:
                    nxt.append(x.get(key) if isinstance(x, dict) else None)
            nodes = nxt
        return _terminal(nodes)
    if access.kind == "virtual":
        ev = view.event
        if access.path == "@source":
            src = ev.get("eventSource")
            return [f"aws.{src.split('.', 1)[0]}"] if isinstance(src, str) else []
        dt = _DETAIL_TYPES.get(ev.get("eventType") or "")
        return [dt] if dt else []
    return []


# -- DuckDB ------------------------------------------------------------------------------------

def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_text(x: str) -> str:
    return f"CASE WHEN json_type({x}) = 'VARCHAR' THEN json_extract_string({x}, '$') ELSE CAST({x} AS VARCHAR) END"


def sql_candidates(access: Access, depth: int = 0) -> tuple[str, str]:
    """``("scalar", expr)`` — a VARCHAR expression, NULL when absent — or ``("list", expr)``
    — a VARCHAR[] of candidates — or ``("none", "")`` for a path that cannot exist."""
    if access.kind == "virtual":
        return "scalar", VIRTUAL[access.path]
    if access.kind == "none":
        return "none", ""
    col = ".".join(quote_ident(c) for c in access.column)
    if access.kind == "column":
        if access.is_json_column:
            j = f"TRY_CAST({col} AS JSON)"
            v = f"e{depth}"
            return "list", (f"(CASE WHEN {col} IS NULL THEN []::VARCHAR[] WHEN json_type({j}) = 'ARRAY' "
                            f"THEN list_prepend({col}, [{_json_text(v)} for {v} in json_extract({j}, '$[*]') "
                            f"if json_type({v}) <> 'NULL']) ELSE [{col}] END)")
        field = CLOUDTRAIL.field(access.column[0])
        ftype = field.type
        for part in access.column[1:]:
            ftype = ftype.field(ftype.get_field_index(part)).type
        if pa.types.is_string(ftype):
            return "scalar", col
        if pa.types.is_timestamp(ftype):
            return "scalar", f"strftime({col}, '%Y-%m-%dT%H:%M:%SZ')"
        if pa.types.is_struct(ftype):
            return "scalar", f"CAST(to_json({col}) AS VARCHAR)"
        return "scalar", f"CAST({col} AS VARCHAR)"
    lst = f"[TRY_CAST({col} AS JSON)]"
    for n, key in enumerate(access.keys):
        x, e = f"x{depth}_{n}", f"e{depth}_{n}"
        jp = sql_str('$."' + key.replace('"', '\\"') + '"')
        lst = (f"flatten([CASE WHEN json_type({x}) = 'ARRAY' THEN [json_extract({e}, {jp}) for {e} in "
               f"json_extract({x}, '$[*]')] ELSE [json_extract({x}, {jp})] END for {x} in {lst}])")
    t, u = f"t{depth}", f"u{depth}"
    terminal = (f"flatten([CASE WHEN json_type({t}) = 'ARRAY' THEN list_prepend({t}, json_extract({t}, '$[*]')) "
                f"ELSE [{t}] END for {t} in {lst} if {t} IS NOT NULL])")
    return "list", f"[{_json_text(u)} for {u} in {terminal} if {u} IS NOT NULL AND json_type({u}) <> 'NULL']"
