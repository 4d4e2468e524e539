"""Saved investigations: named, parameterised SQL files run through the safe query runner.

Each ``*.sql`` file beside this module starts with a header of SQL comments::

    -- name: principal_activity
    -- description: Everything one principal did …
    -- param: principal string — user name, ARN, principalId or access key id
    -- param: top int = 10 — how many principals

A parameter without ``= default`` is required. Types: ``string``, ``int``, ``float``, ``time``.
Every investigation also takes ``start`` and ``end`` (time; default the 30 days up to the newest
CloudTrail data, relative times like ``-7d`` counted back from there) and ``limit`` (int, 1000).
Values are validated by type and substituted as SQL literals (strings quoted and escaped), so
a value can never change the statement's shape; the statement then runs read-only
(:func:`pipeline.query.duck.run_query`).
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


def load(path: Path) -> Investigation:
    """Parse one investigation file; raises QueryError naming the file and line on a bad header."""
    text = path.read_text()
    meta: dict[str, str] = {}
    params: dict[str, Param] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.startswith("--"):
            break
        key, _, value = line[2:].strip().partition(":")
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
            meta[key] = value
    for name, (typ, default, desc) in COMMON.items():
        params.setdefault(name, Param(name, typ, default, desc))
    if "name" not in meta or "description" not in meta:
        raise InputError("header needs `-- name:` and `-- description:`", path=str(path), line=1)
    unknown = set(_REF_RE.findall(text)) - set(params)
    if unknown:
        raise InputError(f"uses undeclared parameter ${sorted(unknown)[0]}", path=str(path), field="param")
    return Investigation(meta["name"], meta["description"], text, path, params)


def catalog(folder: Path = HERE) -> dict[str, Investigation]:
    """Every investigation in ``folder``, by name."""
    found = {}
    for path in sorted(folder.glob("*.sql")):
        inv = load(path)
        found[inv.name] = inv
    return found


def get(name: str) -> Investigation:
    invs = catalog()
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
    """The SQL with every ``$param`` replaced by a typed literal, and the resolved values."""
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
    body = "\n".join(line for line in inv.sql.splitlines() if not line.startswith("--"))
    return _REF_RE.sub(lambda m: _literal(resolved[m.group(1)]), body), resolved


def run_investigation(lake: Lake, name: str, values: dict[str, str] | None = None, *,
                      max_rows: int = 10_000) -> QueryResult:
    """Run a saved investigation; the window it used is stated in the result's notes."""
    from pipeline.query.duck import run_query

    inv = get(name)
    sql, resolved = render(inv, values or {}, now=reference_time(lake))
    result = run_query(lake, sql, default_bound_hours=None, max_rows=max_rows)
    result.notes.insert(0, f"{inv.name}: window [{iso(resolved['start'])}, {iso(resolved['end'])})")
    return result


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


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"TIMESTAMPTZ '{value.astimezone(UTC).isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
