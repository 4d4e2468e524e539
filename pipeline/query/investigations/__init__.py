"""Saved investigations: named, parameterised SQL or Logs Insights queries.

Each file starts with a header of comment lines (``--`` in ``*.sql``, ``#`` in ``*.insights``)::

    -- name: principal_activity
    -- description: Everything one principal did …
    -- param: principal string — user name, ARN, principalId or access key id
    -- param: top int = 10 — how many principals

A parameter without ``= default`` is required. Types: ``string``, ``int``, ``float``, ``time``.
Every investigation also takes ``start`` and ``end`` (time; default the 30 days up to the newest
CloudTrail data, relative times like ``-7d`` counted back from there) and ``limit`` (int, 1000).
A Logs Insights file also names its view with ``# source: cloudtrail`` (or ``logs``; default
cloudtrail); its window is ``start``/``end``. Values are validated by type and substituted as
literals of the file's language (strings quoted and escaped), so a value can never change the
statement's shape; the statement then runs read-only (:func:`pipeline.query.duck.run_query`).

The built-in investigations live beside this module; a user's own live in the folder that
``query.investigations_dir`` names. :func:`catalog` loads both and refuses, with one line naming
the file, line and field, a malformed header, an undeclared ``$param``, a Logs Insights query
that does not parse, or a name used twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import InputError, QueryError
from pipeline.timeutil import iso, parse_time, utcnow

if TYPE_CHECKING:
    from pipeline.lake import Lake
    from pipeline.query.duck import QueryResult

HERE = Path(__file__).parent
TYPES = ("string", "int", "float", "time")
KINDS = {".sql": ("sql", "--"), ".insights": ("insights", "#")}
"""File suffix → (kind, comment prefix of the header)."""
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
COMMON = {"start": ("time", "-30d", "start of the window (inclusive)"),
          "end": ("time", "now", "end of the window (exclusive)"),
          "limit": ("int", "1000", "maximum rows")}
_PARAM_RE = re.compile(r"(\w+)\s+(\w+)(?:\s*=\s*(\S+))?\s*(?:[—-]+\s*(.*))?$")
_REF_RE = re.compile(r"\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    description: str = ""


@dataclass
class Investigation:
    """One saved investigation (parsed header + SQL body)."""

    name: str
    description: str
    sql: str
    path: Path
    params: dict[str, Param] = field(default_factory=dict)
    kind: str = "sql"
    """``sql`` or ``insights`` (Logs Insights)."""
    source: str = "cloudtrail"
    """The view a Logs Insights query reads (``cloudtrail`` or ``logs``)."""
    user: bool = False
    """True for a file from the user's folder (``query.investigations_dir``)."""


def load(path: Path, *, user: bool = False) -> Investigation:
    """Parse one investigation file (``*.sql`` or ``*.insights``); raises InputError naming the
    file, line and field of a bad header, an undeclared ``$param`` or (Logs Insights) bad syntax."""
    kind, prefix = KINDS.get(path.suffix, ("sql", "--"))
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file: {exc}", path=str(path)) from None
    meta: dict[str, tuple[str, int]] = {}
    params: dict[str, Param] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.startswith(prefix):
            break
        key, _, value = line[len(prefix):].strip().partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "param":
            m = _PARAM_RE.match(value)
            if not m or m.group(2) not in TYPES:
                raise InputError(f"bad param header (use: name type [= default] — text; types {TYPES})",
                                 path=str(path), line=n, field="param", value=value)
            default = m.group(3)
            if default is not None and len(default) >= 2 and default[0] == default[-1] == "'":
                default = default[1:-1]
            params[m.group(1)] = Param(m.group(1), m.group(2), default, (m.group(4) or "").strip())
        elif key:
            meta[key] = (value, n)
    for name, (typ, default, desc) in COMMON.items():
        params.setdefault(name, Param(name, typ, default, desc))
    if "name" not in meta or "description" not in meta:
        raise InputError(f"header needs `{prefix} name:` and `{prefix} description:`", path=str(path), line=1,
                         field="name" if "name" not in meta else "description")
    name, name_line = meta["name"]
    if not _NAME_RE.match(name):
        raise InputError("name must be a letter then letters, digits, _ or - (at most 64)", path=str(path),
                         line=name_line, field="name", value=name)
    unknown = set(_REF_RE.findall(text)) - set(params)
    if unknown:
        raise InputError(f"uses undeclared parameter ${sorted(unknown)[0]}", path=str(path), field="param")
    source, source_line = meta.get("source", ("cloudtrail", 1))
    inv = Investigation(name, meta["description"][0], text, path, params, kind, source, user)
    if kind == "insights":
        _check_insights(inv, source_line)
    return inv


def _check_insights(inv: Investigation, source_line: int) -> None:
    """Refuse a Logs Insights file whose source is unknown or whose query does not parse (each
    parameter stands in as a literal of its type)."""
    from pipeline.query.logs_insights import SOURCES, to_sql

    if inv.source not in SOURCES:
        raise InputError(f"source must be one of {', '.join(sorted(SOURCES))}", path=str(inv.path),
                         line=source_line, field="source", value=inv.source)
    samples = {"string": "x", "int": 1, "float": 1.0, "time": datetime(2000, 1, 1, tzinfo=UTC)}
    body = _REF_RE.sub(lambda m: _li_literal(samples[inv.params[m.group(1)].type]), _body(inv))
    try:
        to_sql(body, source=inv.source)
    except QueryError as exc:
        raise InputError(f"the Logs Insights query does not parse: {exc}", path=str(inv.path),
                         field="query") from None


def catalog(folder: Path = HERE, user_folder: str | Path | None = None) -> dict[str, Investigation]:
    """Every investigation by name: the built-in ones in ``folder``, then the user's own in
    ``user_folder`` (``query.investigations_dir``; None or ``""`` for none).

    Raises:
        InputError: a malformed file (see :func:`load`), a missing user folder, or a name used
            by two files (naming the second file).
    """
    found: dict[str, Investigation] = {}
    folders: list[tuple[Path, bool]] = [(folder, False)]
    if user_folder:
        user_path = Path(user_folder)
        if not user_path.is_dir():
            raise InputError("the investigations folder does not exist", path=str(user_path),
                             field="query.investigations_dir")
        folders.append((user_path, True))
    for base, user in folders:
        for path in sorted(p for p in base.iterdir() if p.suffix in KINDS and p.is_file()):
            inv = load(path, user=user)
            if inv.name in found:
                raise InputError(f"name {inv.name!r} is already used by {found[inv.name].path}", path=str(path),
                                 field="name", value=inv.name)
            found[inv.name] = inv
    return found


def get(name: str, user_folder: str | Path | None = None) -> Investigation:
    invs = catalog(user_folder=user_folder)
    if name not in invs:
        raise QueryError(f"unknown investigation {name!r} (known: {', '.join(invs)})")
    return invs[name]


def reference_time(lake: Lake) -> datetime:
    """What ``now`` means: the end of the newest CloudTrail partition, or the wall clock if that is
    earlier (so relative windows land on the data of a lake that is not live)."""
    from pipeline.query.catalog import table_extent

    extent = table_extent(lake, "cloudtrail")
    now = utcnow()
    return min(now, extent[1]) if extent else now


def render(inv: Investigation, values: dict[str, str], *, now: datetime) -> tuple[str, dict[str, Any]]:
    """The query with every ``$param`` replaced by a typed literal of its language, and the
    resolved values."""
    unknown = set(values) - set(inv.params)
    if unknown:
        raise QueryError(f"{inv.name}: unknown parameter {sorted(unknown)[0]!r} "
                         f"(known: {', '.join(inv.params)})")
    resolved: dict[str, Any] = {}
    for p in inv.params.values():
        raw = values.get(p.name, p.default)
        if raw is None:
            raise QueryError(f"{inv.name}: parameter {p.name!r} is required ({p.description})")
        resolved[p.name] = _convert(inv.name, p, raw, now)
    literal = _li_literal if inv.kind == "insights" else _literal
    return _REF_RE.sub(lambda m: literal(resolved[m.group(1)]), _body(inv)), resolved


def run_investigation(lake: Lake, name: str, values: dict[str, str] | None = None, *,
                      max_rows: int = 10_000, user_folder: str | Path | None = None) -> QueryResult:
    """Run a saved investigation (built-in or from ``user_folder``); the window it used is stated
    in the result's notes."""
    from pipeline.query.duck import run_query

    inv = get(name, user_folder)
    text, resolved = render(inv, values or {}, now=reference_time(lake))
    if inv.kind == "insights":
        from pipeline.query.logs_insights import run_insights

        limit = int(resolved["limit"])
        result = run_insights(lake, text, source=inv.source, start=resolved["start"], end=resolved["end"],
                              max_rows=min(max_rows, limit), default_bound_hours=None)
    else:
        result = run_query(lake, text, default_bound_hours=None, max_rows=max_rows)
    result.notes.insert(0, f"{inv.name}: window [{iso(resolved['start'])}, {iso(resolved['end'])})")
    return result


def _body(inv: Investigation) -> str:
    prefix = KINDS.get(inv.path.suffix, ("sql", "--"))[1]
    lines = inv.sql.splitlines()
    head = next((i for i, line in enumerate(lines) if not line.startswith(prefix)), len(lines))
    return "\n".join(lines[head:])


def _convert(inv: str, p: Param, raw: str, now: datetime) -> Any:
    try:
        if p.type == "int":
            return int(raw)
        if p.type == "float":
            return float(raw)
        if p.type == "time":
            return parse_time(raw, now=now)
    except (ValueError, InputError):
        raise QueryError(f"{inv}: parameter {p.name!r} must be a {p.type} (got {raw!r})") from None
    return str(raw)


def _li_literal(value: Any) -> str:
    """A Logs Insights literal: numbers as they are, times and strings double-quoted with
    backslash escapes."""
    if isinstance(value, datetime):
        value = iso(value)
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"TIMESTAMPTZ '{value.astimezone(UTC).isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
