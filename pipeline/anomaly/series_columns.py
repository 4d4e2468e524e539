"""Which columns of a series CSV hold the time and the value, and how its numbers are written.

:func:`find_columns` reads the header (and the first rows after it) the way the module docstring of
:mod:`pipeline.anomaly.series_io` promises: the time is ``timestamp`` / ``time`` / ``datetime`` /
``date``, the value is ``value`` — or the column ``--stat`` names, or the one other column, or,
beside several, the first that holds numbers, preferring one named for a CloudWatch statistic
(``Average``, ``Sum``, ``Maximum``, ``Minimum``, ``SampleCount``, ``p99`` …) as console and
spreadsheet exports write them. Without a time column: a header that is itself a point, a header
of other names over points (``ts,v``), or one column of numbers. :func:`comma_number` reads a
number written with a decimal comma, as a ``;``-delimited export from a comma-decimal locale
writes it (``12,5`` · ``1.234,5``); :func:`local_number` also reads a quoted ``"1,234.5"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.anomaly.series_time import time_reader
from pipeline.errors import InputError
from pipeline.values import finite_float

#: Header names of the time column, in order of preference.
TIME_COLUMNS = ("timestamp", "time", "datetime", "date")
#: The delimiters a header may split on (the one it holds most of wins; a comma if none).
DELIMITERS = ",;\t|"
#: CloudWatch's statistics, as a header may name a value column (lower case), besides percentiles.
STATISTICS = ("average", "sum", "maximum", "minimum", "samplecount")
_PERCENTILE = re.compile(r"(?:p|tm|wm|tc|ts)\d{1,2}(?:\.\d+)?")
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


@dataclass(frozen=True)
class Columns:
    """Where a file's time and value are: ``time`` None for values only; ``headerless`` when the
    first line is itself a point; ``note`` (kind, detail after the line) when something was chosen."""

    time: int | None
    value: int
    headerless: bool = False
    note: tuple[str, str] | None = None


def delimiter(first_line: str) -> str:
    """The delimiter of a file whose first line is ``first_line`` (:data:`DELIMITERS`)."""
    return max(DELIMITERS, key=first_line.count) if any(d in first_line for d in DELIMITERS) else ","


def comma_number(text: str) -> str | None:
    """``text`` as a decimal-point number if it is one written with a decimal comma (``12,5``,
    ``-1.234,5``, ``3,2e-4``), else None."""
    if _COMMA_NUMBER.fullmatch(text) is None:
        return None
    return text.replace(".", "").replace(",", ".")


def local_number(text: str, delim: str) -> tuple[str, str] | None:
    """``(number, note)`` for a value a spreadsheet wrote in a locale's form, else None: with a
    ``;`` delimiter a decimal comma (:func:`comma_number`), otherwise thousands separated by commas
    in a quoted field (``"1,234.5"``)."""
    if delim == ";":
        got = comma_number(text)
        return None if got is None else (got, "decimal commas read as points (a `;`-delimited file)")
    if _THOUSANDS.fullmatch(text) is None:
        return None
    return text.replace(",", ""), "thousands separators dropped from numbers"


def _number(text: str) -> bool:
    t = text.strip()
    return finite_float(t) is not None or comma_number(t) is not None or _THOUSANDS.fullmatch(t) is not None


def _statistic(name: str) -> bool:
    return name in STATISTICS or _PERCENTILE.fullmatch(name) is not None


def _is_point(row: Sequence[str]) -> bool:
    """Whether a row is a point: a time (in any form :func:`time_reader` knows), then a number."""
    if len(row) < 2 or finite_float(row[1].strip()) is None:
        return False
    text = row[0].lstrip("\ufeff").strip()
    try:
        time_reader([text])[0](text)
    except InputError:
        return False
    return True


def find_columns(header: Sequence[str], rows: Sequence[Sequence[str]], stat: str | None = None, *,
                 path: str | None = None) -> Columns | None:
    """The time and value columns of a file whose first line is ``header`` and whose next lines
    begin with ``rows`` (a few suffice; see the module docstring), or None if it is none of the
    shapes read. ``stat`` names the value column; a header without it raises :class:`InputError`
    (naming ``path``, line 1)."""
    names = [h.strip().lstrip("\ufeff").strip().strip('"').lower() for h in header]
    t = next((names.index(n) for n in TIME_COLUMNS if n in names), None)
    if stat is not None and (t is None or stat.strip().lower() not in names):
        named = "names no time column" if t is None else f"names {', '.join(h.strip() for h in header)}"
        raise InputError(f"no `{stat}` column (the header {named})", path=path, line=1, field="--stat", value=stat)
    if t is None:
        return _unnamed(header, rows[0] if rows else [])
    if stat is not None:
        return Columns(t, names.index(stat.strip().lower()))
    if "value" in names:
        return Columns(t, names.index("value"))
    others = [i for i, n in enumerate(names) if i != t and n]
    if len(others) == 1:
        return Columns(t, others[0], note=("no `value` column: the one other column read as the value",
                                           f" {header[others[0]].strip()!r}"))
    numeric = [i for i in others if any(i < len(r) and _number(r[i]) for r in rows)]
    pick = [i for i in numeric if _statistic(names[i])] or numeric
    if not pick:
        return None
    name = header[pick[0]].strip()
    if len(numeric) == 1:
        return Columns(t, pick[0], note=("no `value` column: the one other column of numbers read as the value",
                                         f" {name!r}"))
    among = ", ".join(header[i].strip() for i in numeric)
    return Columns(t, pick[0], note=(f"no `value` column: `{name}` read as the value, of {among} (--stat "
                                     "chooses another)", ""))


def _unnamed(header: Sequence[str], second: Sequence[str]) -> Columns | None:
    """The columns of a file whose header names no time column, from its first two lines."""
    if _is_point(header):
        return Columns(0, 1, headerless=True, note=("no header: the columns read as `timestamp,value`", ""))
    names = ",".join(h.strip() for h in header)
    if _is_point(second):
        return Columns(0, 1, note=(f"header `{names[:40]}` names no time column: the first two columns read as "
                                   "`timestamp,value`", ""))
    if len(header) == 1 and len(second) == 1 and finite_float(second[0].strip()) is not None:
        return Columns(None, 0, note=(f"one column `{names[:40]}`, no times: the values read 5 minutes apart "
                                      "(CloudWatch's basic period) from 1970-01-01", ""))
    return None
