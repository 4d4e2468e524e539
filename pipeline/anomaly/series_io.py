"""Reading and writing one series in NAB's CSV format, and running a detector over it.

Input: ``timestamp,value`` with a header; timestamps as ISO 8601 or ``YYYY-MM-DD HH:MM:SS``
(naive = UTC) or epoch seconds/milliseconds. Output adds ``anomaly_score``. A malformed row
raises :class:`~pipeline.errors.InputError` naming the file, line and field; an empty value is
a missing point (scored 0, not learnt).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from pipeline.anomaly import make_detector
from pipeline.anomaly.base import Score
from pipeline.errors import InputError, InputNotFoundError
from pipeline.timeutil import parse_time


def read_series(path: str | Path) -> tuple[list[datetime], list[float | None], list[str]]:
    """``(timestamps, values, raw_timestamp_text)`` of a NAB-style CSV, in file order."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(str(p), "no such file")
    times: list[datetime] = []
    values: list[float | None] = []
    raw: list[str] = []
    with p.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
            raise InputError("expected a header `timestamp,value`", path=str(p), line=1,
                             value=header)
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 2:
                raise InputError("expected 2 columns", path=str(p), line=line, value=row)
            try:
                t = parse_time(row[0].strip())
            except InputError:
                raise InputError("bad timestamp", path=str(p), line=line, field="timestamp",
                                 value=row[0]) from None
            text = row[1].strip()
            try:
                v = float(text) if text else None
            except ValueError:
                raise InputError("not a number", path=str(p), line=line, field="value",
                                 value=text) from None
            if times and t < times[-1]:
                raise InputError("timestamps must be ascending", path=str(p), line=line,
                                 field="timestamp", value=row[0])
            times.append(t)
            values.append(v)
            raw.append(row[0].strip())
    return times, values, raw


def run_detector(times: Sequence[datetime], values: Sequence[float | None],
                 detector: str = "multiview") -> list[Score]:
    """Score every point of one series with a fresh detector (causal, one pass)."""
    det = make_detector(detector)
    step = det.step
    return [step(t.timestamp(), v) for t, v in zip(times, values, strict=True)]


def write_scores(path: str | Path, raw_times: Iterable[str], values: Iterable[float | None],
                 scores: Iterable[Score]) -> int:
    """Write ``timestamp,value,anomaly_score`` (NAB results format); returns rows written."""
    n = 0
    with Path(path).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value", "anomaly_score"])
        for t, v, s in zip(raw_times, values, scores, strict=True):
            w.writerow([t, "" if v is None else repr(v), f"{s.score:.6f}"])
            n += 1
    return n
