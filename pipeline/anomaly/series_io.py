"""Reading and writing one series in NAB's CSV format, and running a detector over it.

Input: ``timestamp,value`` with a header; timestamps as ISO 8601 or ``YYYY-MM-DD HH:MM:SS``
(naive = UTC) or epoch seconds/milliseconds — or what `aws cloudwatch get-metric-data` /
`get-metric-statistics` print (:mod:`pipeline.anomaly.series_json`). Output adds
``anomaly_score``, one per input row (datapoint) in file order.

Real files are messy and a readable file is never refused. What :func:`read_series` does about
each problem is written to :attr:`SeriesFile.notes` (one line each, naming the line):

* a value that is empty, not a finite number or outside CloudWatch's range ±2^360 is a missing
  point (scored 0, not learnt);
* a timestamp that cannot be parsed takes the previous row's time plus the typical step;
* a repeated timestamp is scored in file order at that time;
* a clock that goes back now and then (fewer than 1 % of the steps) is held: those rows are scored
  at the latest time seen until the clock catches up, so the detector's clock never runs back;
* a file mostly out of order (newest first, shuffled) is scored in time order (stable), and the
  scores are written back in file order.

The columns are found by their header, in any position and case: the time is ``timestamp`` (or
``time`` / ``datetime`` / ``date``), the value ``value`` — or the column ``stat`` names, or beside the
time column the one other column of numbers (a metric's own name, as a console export writes it),
or among several the first named for a CloudWatch statistic (noted; :mod:`pipeline.anomaly.series_columns`).
The delimiter is a comma, a semicolon, a tab or a bar, whichever the header splits on; with a
semicolon, a value written with a decimal comma (``12,5``, ``1.234,5``) is read as that number,
and otherwise one with thousands separators (``"1,234.5"``) — noted. A file without a header whose first row
is a time and a number is read as ``timestamp,value``, and so is one whose header names no time
column but whose next row is such a point (``ts,v``); one column of numbers is a series of values
5 minutes apart (CloudWatch's basic period); an empty file is a series of no points (all noted).
Times beyond ISO 8601 — ``… UTC``, ``2026/01/02``, ``01/02/2026 10:00 AM``, ``02.01.2026`` — are
read in the one form that fits the file (:mod:`pipeline.anomaly.series_time`, noted). Only a
missing file, or first lines that are none of these, raise (:class:`InputError` naming the file
and line).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.anomaly import DEFAULT_DETECTOR, make_detector
from pipeline.anomaly.base import Score
from pipeline.anomaly.series_columns import delimiter, find_columns, local_number
from pipeline.anomaly.series_json import read_json_rows
from pipeline.anomaly.series_time import time_reader
from pipeline.errors import InputError, InputNotFoundError
from pipeline.timeutil import parse_time
from pipeline.values import finite_float, metric_value

#: Rows after the header read to find the value column among several (:func:`find_columns`).
PEEK_ROWS = 20
#: Backward steps (as a share of all steps) above which a file is scored in time order.
SORT_ABOVE = 0.01
_MAX_EXAMPLES = 3


@dataclass
class SeriesFile:
    """One series as read. ``times`` are the epoch seconds the detector sees, one per row in file
    order (see the module docstring for how they are derived); ``order`` is the row order in which
    to stream them (file order unless the file had to be sorted)."""

    path: str
    raw_times: list[str]
    raw_values: list[str]
    values: list[float | None]
    times: list[float]
    order: list[int]
    notes: list[str] = field(default_factory=list)


class _Notes:
    """Counts of one kind of problem plus the first few examples, rendered as one line."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}

    def add(self, kind: str, example: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        ex = self.kinds.setdefault(kind, [])
        if len(ex) < _MAX_EXAMPLES:
            ex.append(example)

    def lines(self) -> list[str]:
        out = []
        for kind, ex in self.kinds.items():
            n = self.counts[kind]
            more = f" (+{n - len(ex)} more)" if n > len(ex) else ""
            out.append(f"{kind} ×{n}: {'; '.join(ex)}{more}")
        return out


def read_series(path: str | Path, *, series: str | None = None, stat: str | None = None) -> SeriesFile:
    """Read one series: a NAB-style CSV, or the JSON `aws cloudwatch get-metric-data` /
    `get-metric-statistics` print (:mod:`pipeline.anomaly.series_json`; ``series`` / ``stat``
    choose among several); every row or datapoint becomes one point (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(str(p), "no such file")
    with p.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    notes = _Notes()
    rows = _json_rows(p, series, stat, notes) if head in (b"{", b"[") else _csv_rows(p, notes, stat)
    raw, raw_v, parsed, values, lines = rows
    times, order = _clock(parsed, lines, p.name, notes)
    return SeriesFile(str(p), raw, raw_v, values, times, order, notes.lines())


_Rows = tuple[list[str], list[str], list[float | None], list[float | None], list[int]]


def _iso_time(text: str) -> float:
    return parse_time(text).timestamp()


def _point(text_t: str, text_v: str, where: str, notes: _Notes, v: float | None,
           parse: Callable[[str], float] = _iso_time) -> float | None:
    """The row's time (None if unparseable), noting what was done about a bad time or value."""
    try:
        t: float | None = parse(text_t)
    except InputError:
        t = None
        notes.add("bad `timestamp` (row placed one step after the previous one)", f"{where} {text_t[:40]!r}")
    _value_note(text_v, where, notes, v)
    return t


def _value_note(text_v: str, where: str, notes: _Notes, v: float | None) -> None:
    """Note a row whose value ``v`` read from ``text_v`` is missing."""
    if v is None and finite_float(text_v) is not None:
        notes.add("`value` outside CloudWatch's range ±2^360 (row scored 0, not learnt)", f"{where} {text_v[:40]!r}")
    elif v is None and text_v.strip():
        notes.add("`value` not a finite number (row scored 0, not learnt)", f"{where} {text_v[:40]!r}")
    elif v is None:
        notes.add("`value` empty: a missing datapoint (row scored 0, not learnt)", where)


def _csv_rows(p: Path, notes: _Notes, stat: str | None = None) -> _Rows:
    parsed: list[float | None] = []
    values: list[float | None] = []
    raw: list[str] = []
    raw_v: list[str] = []
    lines: list[int] = []
    with p.open(newline="", errors="replace") as fh:
        first = fh.readline()
        fh.seek(0)
        if not first.strip():
            notes.add("empty file: no points to score", f"{p.name}:1")
            return raw, raw_v, parsed, values, lines
        delim = delimiter(first)
        reader: Iterator[list[str]] = csv.reader(fh, delimiter=delim)
        header = next(reader)
        peek = list(itertools.islice(reader, PEEK_ROWS))
        reader = itertools.chain(peek, reader)
        cols = find_columns(header, peek, stat, path=str(p))
        if cols is None:
            raise InputError("expected a header naming `timestamp` and `value` columns, or a first row "
                             "`time,number`", path=str(p), line=1, value=header)
        if cols.note is not None:
            notes.add(cols.note[0], f"{p.name}:1{cols.note[1]}")
        start = 2
        if cols.headerless:  # the first line is a point itself
            start = 1
            header[0] = header[0].lstrip("\ufeff")
            reader = itertools.chain([header], reader)
        ti, vi = cols.time, cols.value
        rows: list[tuple[int, str, str]] = []
        for line, row in enumerate(reader, start=start):
            if not row or not any(c.strip() for c in row):
                continue
            rows.append((line, row[ti].strip() if ti is not None and ti < len(row) else "",
                         row[vi].strip() if len(row) > vi else ""))
    parse, how = time_reader([r[1] for r in rows]) if ti is not None else (_iso_time, None)
    if how is not None:
        notes.add(how, f"{p.name}:{rows[0][0]}")
    for line, text_t, text_v in rows:
        v = metric_value(text_v) if text_v else None
        if v is None and text_v and (alt := local_number(text_v, delim)) is not None:
            v = metric_value(alt[0])
            notes.add(alt[1], f"{p.name}:{line} {text_v[:40]!r}")
        if ti is not None:
            parsed.append(_point(text_t, text_v, f"{p.name}:{line}", notes, v, parse))
        else:  # values only: one every basic period
            parsed.append(300.0 * len(parsed))
            _value_note(text_v, f"{p.name}:{line}", notes, v)
        values.append(v)
        raw.append(text_t)
        raw_v.append(text_v)
        lines.append(line)
    return raw, raw_v, parsed, values, lines


def _json_rows(p: Path, series: str | None, stat: str | None, notes: _Notes) -> _Rows:
    got = read_json_rows(p, series, stat)
    notes.add(f"read {got.what}", p.name)
    for where in got.skipped:
        notes.add("not a JSON object (no point to score: skipped)", f"{p.name} {where}")
    values = [metric_value(v) for v in got.values]
    raw_v = ["" if v is None else repr(v) if isinstance(v, float) else str(v) for v in got.values]
    parsed = [_point(t, rv, f"{p.name} datapoint {i + 1}", notes, v)
              for i, (t, rv, v) in enumerate(zip(got.times, raw_v, values, strict=True))]
    return got.times, raw_v, parsed, values, list(range(1, len(values) + 1))


def _typical_step(parsed: Sequence[float | None]) -> float:
    steps = sorted(b - a for a, b in zip(parsed, parsed[1:], strict=False)
                   if a is not None and b is not None and b > a)
    return steps[len(steps) // 2] if steps else 300.0


def _clock(parsed: list[float | None], lines: list[int], name: str, notes: _Notes,
           ) -> tuple[list[float], list[int]]:
    """Effective times (file order) and the order to stream rows in."""
    step = _typical_step(parsed)
    first = next((i for i, t in enumerate(parsed) if t is not None), None)
    filled: list[float] = []
    for i, t in enumerate(parsed):
        if t is not None:
            filled.append(t)
        elif first is None:
            filled.append(step * i)
        elif i < first:
            filled.append(parsed[first] - step * (first - i))  # type: ignore[operator]
        else:
            filled.append(filled[-1] + step)
    back = sum(1 for a, b in zip(filled, filled[1:], strict=False) if b < a)
    if back > SORT_ABOVE * max(len(filled) - 1, 1):
        order = sorted(range(len(filled)), key=filled.__getitem__)
        notes.add(f"file out of time order ({back} backward steps): scored in time order, "
                  "written in file order", f"{name}:{lines[0]}–{lines[-1]}")
        _repeats(filled, order, lines, name, notes)
        return filled, order
    times: list[float] = []
    last = -math.inf
    held = 0
    for i, t in enumerate(filled):
        if t < last:
            if not held:
                notes.add("clock went back (rows until it caught up scored at the latest time "
                          "seen)", f"{name}:{lines[i]} back {_duration(last - t)}")
            held += 1
            t = last
        else:
            held = 0
        times.append(t)
        last = t
    _repeats(filled, list(range(len(filled))), lines, name, notes)
    return times, list(range(len(filled)))


def _repeats(times: list[float], order: list[int], lines: list[int], name: str,
             notes: _Notes) -> None:
    for a, b in zip(order, order[1:], strict=False):
        if times[a] == times[b]:
            notes.add("timestamp repeats the previous row's (scored in file order)",
                      f"{name}:{lines[b]}")


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


#: Points between two calls of :func:`run_detector`'s ``progress``.
PROGRESS_EVERY = 50_000


def run_detector(series: SeriesFile, detector: str = DEFAULT_DETECTOR,
                 progress: Callable[[int], None] | None = None) -> list[Score]:
    """Score every row of one series with a fresh detector (causal, one pass in
    ``series.order``); the result is in file order. ``progress(n)`` is told of every
    :data:`PROGRESS_EVERY` points scored, and of the rest at the end."""
    det = make_detector(detector)
    step = det.step
    out: list[Score | None] = [None] * len(series.values)
    times, values = series.times, series.values
    order = series.order
    for a in range(0, len(order), PROGRESS_EVERY):
        chunk = order[a:a + PROGRESS_EVERY]
        for i in chunk:
            out[i] = step(times[i], values[i])
        if progress is not None:
            progress(len(chunk))
    return [s for s in out if s is not None]


def write_scores(path: str | Path, series: SeriesFile, scores: Iterable[Score], *, band: bool = False) -> int:
    """Write ``timestamp,value,anomaly_score`` (NAB results format) in file order, timestamps and
    values as they were read; with ``band`` also ``expected,lower,upper`` — each score's own band
    (the detector's forecast ∓ k·σ, as ``ANOMALY_DETECTION_BAND`` draws it), empty where the detector
    had none (its warm-up, a row with no number). Returns rows written."""
    n = 0
    with Path(path).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value", "anomaly_score", *(("expected", "lower", "upper") if band else ())])
        for t, v, s in zip(series.raw_times, series.raw_values, scores, strict=True):
            row = [t, v, f"{s.score:.6f}"]
            if band:
                row += ["" if b is None else repr(b) for b in (s.expected, s.lower, s.upper)]
            w.writerow(row)
            n += 1
    return n
