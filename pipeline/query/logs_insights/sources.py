"""Where Logs Insights fields live: the queryable sources and SQL helpers for values.

:data:`SOURCES` maps ``cloudtrail`` and ``logs`` to their view, time column, schema and system
fields (``@timestamp``, ``@message``, ``@logStream``, ``@log``, ``@ingestionTime``). The helpers
render literals, durations, time floors, JSON paths, and turn ``parse`` globs and named-group
regexes into RE2 patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from pipeline.errors import QueryError
from pipeline.query.logs_insights.lexer import DURATION_UNITS
from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS, LOGS, PREFIX


@dataclass(frozen=True)
class Source:
    """A view Logs Insights can query and how its fields map to SQL."""

    view: str
    time_col: str
    schema: pa.Schema
    system: dict[str, str]
    json_columns: frozenset[str] = frozenset()
    discover_in: str | None = None      # JSON text column searched for unknown fields


SOURCES = {
    "cloudtrail": Source(
        "cloudtrail", "eventTime", CLOUDTRAIL,
        {"@timestamp": '"eventTime"', "@message": '"__message"',
         "@logStream": "\"recipientAccountId\" || '_CloudTrail_' || \"awsRegion\"",
         "@log": "\"recipientAccountId\" || ':cloudtrail'", "@ingestionTime": f'"{PREFIX}ingest_time"'},
        frozenset(CLOUDTRAIL_JSON_FIELDS) | {"userIdentity.sessionContext.webIdFederationData"},
        discover_in=f"{PREFIX}extra"),
    "logs": Source(
        "logs", "timestamp", LOGS,
        {"@timestamp": '"timestamp"', "@message": '"message"', "@logStream": '"logStream"',
         "@log": "coalesce(\"owner\", '') || ':' || \"logGroup\"", "@ingestionTime": '"ingestionTime"'},
        discover_in="message"),
}

def event_json(src: Source) -> str:
    """The event as CloudTrail JSON text: JSON-text fields embedded as JSON, times as ``…Z``."""
    parts = []
    for f in src.schema:
        if f.name.startswith(PREFIX):
            continue
        col = f'"{f.name}"'
        if f.name in src.json_columns:
            col = f"json({col})"
        elif pa.types.is_timestamp(f.type):
            col = f"strftime({col}, '%Y-%m-%dT%H:%M:%SZ')"
        parts.append(f'"{f.name}" := {col}')
    return f"CAST(to_json(struct_pack({', '.join(parts)})) AS VARCHAR)"


def json_path(parts: list[str]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if p.isdigit() else f'."{p}"'
    return out


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]+)", text)
    assert m is not None
    return float(m.group(1)) * DURATION_UNITS[m.group(2).lower()]


def floor_time(t: str, seconds: float) -> str:
    us = int(round(seconds * 1_000_000))
    return f"make_timestamptz(CAST(floor(epoch_us({t}) / {us}) AS BIGINT) * {us})"


def glob_to_regex(glob: str) -> str:
    """RE2 regex of a ``parse`` glob: each ``*`` captures as little as it can before the literal
    text that follows it (AWS documents the glob as non-greedy, so ``"Duration: * ms"`` stops at
    the first `` ms``); a ``*`` that ends the glob has nothing after it and takes the rest of the
    line. Every other character matches itself."""
    parts = glob.split("*")
    special = set("\\.^$|?*+()[]{}")
    esc = ["".join("\\" + c if c in special else c for c in p) for p in parts]
    out = esc[0]
    for i, p in enumerate(esc[1:]):
        trailing = i == len(esc) - 2 and p == ""
        out += ("(.*)" if trailing else "(.*?)") + p
    return out


def named_regex(regex: str, error: QueryError) -> tuple[str, list[str]]:
    """RE2 form of a Logs Insights regex: named groups become plain groups (their names returned
    in order, matched to groups by position), other groups become non-capturing."""
    out, names, i, in_class = [], [], 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            out.append(regex[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            m = re.match(r"\(\?P?<([A-Za-z_@][A-Za-z0-9_@.]*)>", regex[i:])
            if m:
                names.append(m.group(1))
                out.append("(")
                i += m.end()
                continue
            if not regex.startswith("(?", i):
                out.append("(?:")
                i += 1
                continue
        out.append(c)
        i += 1
    if not names:
        raise error
    return "".join(out), names
