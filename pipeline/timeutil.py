"""UTC time helpers: parsing, period arithmetic and half-open windows.

Everything here returns timezone-aware ``datetime`` objects in UTC. Windows are half-open
``[start, end)`` and stamped with their start, as CloudWatch stamps a period.

>>> floor(parse_time("2025-02-11T12:32:34Z"), 300).isoformat()
'2025-02-11T12:30:00+00:00'
>>> parse_duration("1h30m")
5400
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.errors import InputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to milliseconds."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def parse_duration(text: str | int | float) -> int:
    """Parse ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"15d"`` or ``"2w"`` into whole seconds.

    Raises:
        InputError: empty, negative or unparseable text (the value is quoted).
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise InputError("duration must not be negative", field="duration", value=text)
        return int(text)
    s = str(text).strip()
    if re.fullmatch(r"\d+", s):
        return int(s)
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(s):
        if s[pos : m.start()].strip():
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
        pos = m.end()
    if not s or pos != len(s):
        raise InputError("not a duration (use e.g. 90s, 5m, 1h30m, 15d)", field="duration", value=text)
    return int(total)


MAX_TIME = datetime.max.replace(tzinfo=UTC)
MIN_TIME = datetime.min.replace(tzinfo=UTC)


def shift(value: datetime, delta: timedelta) -> datetime:
    """``value + delta``, clamped to the representable range instead of raising OverflowError
    (a partition dated 9999-12-31 ends at :data:`MAX_TIME`, not with an error)."""
    try:
        return value + delta
    except OverflowError:
        return MAX_TIME if delta > timedelta(0) else MIN_TIME


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def from_epoch(value: float, unit: str = "auto") -> datetime:
    """Convert an epoch number to aware UTC.

    ``unit`` is ``s``, ``ms`` or ``auto`` (values above 10^11 are taken as milliseconds, so
    epoch seconds work until the year 5138 and epoch milliseconds from 1973 on).

    Raises:
        InputError: the number is no time a datetime holds (beyond the years 1–9999, NaN, ±inf).
    """
    if unit == "auto":
        unit = "ms" if abs(value) >= 1e11 else "s"
    seconds = value / 1000.0 if unit == "ms" else float(value)
    try:
        return EPOCH + timedelta(milliseconds=round(seconds * 1000))
    except (OverflowError, ValueError):
        raise InputError("epoch time out of range (years 1–9999)", field="time", value=value) from None


def parse_time(value: str | int | float | datetime, *, now: datetime | None = None) -> datetime:
    """Parse an absolute or relative time into aware UTC.

    Accepts ISO 8601 (``2025-02-11T08:14:09Z``, with offset, or a bare date), epoch seconds or
    milliseconds (number or digit string), ``now``, and relative times ``-15m`` / ``now-2h``
    measured from ``now`` (default: the wall clock).

    Raises:
        InputError: the text is not a time (quoted in the message).
    """
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_epoch(value)
    s = str(value).strip()
    ref = to_utc(now) if now is not None else utcnow()
    if s.lower() == "now":
        return ref
    rel = re.fullmatch(r"(?:now)?\s*([+-])\s*(.+)", s, re.IGNORECASE)
    if rel and not re.fullmatch(r"-?\d+(\.\d+)?", s):
        delta = timedelta(seconds=parse_duration(rel.group(2)))
        return ref - delta if rel.group(1) == "-" else ref + delta
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return from_epoch(float(s))
    iso = s.replace("z", "Z")
    if iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise InputError("not a time (use ISO 8601, epoch seconds/ms, now or -15m)",
                         field="time", value=value) from None
    return to_utc(parsed)


def epoch_ms(value: datetime) -> int:
    """Whole milliseconds since the epoch of an aware (or naive-UTC) datetime (floored)."""
    return (to_utc(value) - EPOCH) // timedelta(milliseconds=1)


def floor(value: datetime, period_seconds: int) -> datetime:
    """Floor to the start of the UTC-epoch-aligned period that contains ``value``.

    Periods are aligned to multiples of ``period_seconds`` since 1970-01-01T00:00Z, so 300 s
    buckets start at :00, :05, … and 3600 s buckets on the hour, in every time zone and on
    every day (UTC has no DST).
    """
    if period_seconds <= 0:
        raise InputError("period must be positive", field="period", value=period_seconds)
    ms = epoch_ms(value)
    step = period_seconds * 1000
    return EPOCH + timedelta(milliseconds=ms - ms % step)


def ceil(value: datetime, period_seconds: int) -> datetime:
    """Smallest period boundary that is >= ``value``."""
    f = floor(value, period_seconds)
    return f if f == to_utc(value) else f + timedelta(seconds=period_seconds)


@dataclass(frozen=True, order=True)
class Window:
    """A half-open UTC time window ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start))
        object.__setattr__(self, "end", to_utc(self.end))
        if self.end < self.start:
            raise InputError("window end is before its start", field="end", value=self.end.isoformat())

    def __contains__(self, value: datetime) -> bool:
        return self.start <= to_utc(value) < self.end

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def window_of(value: datetime, period_seconds: int) -> Window:
    """The half-open period ``[floor(value), floor(value)+period)`` containing ``value``."""
    start = floor(value, period_seconds)
    return Window(start, start + timedelta(seconds=period_seconds))


def windows(start: datetime, end: datetime, period_seconds: int) -> Iterator[Window]:
    """Aligned windows covering ``[start, end)``: the first contains ``start``; the last starts
    before ``end``. Yields nothing when ``start >= end``."""
    cur = floor(start, period_seconds)
    step = timedelta(seconds=period_seconds)
    end = to_utc(end)
    while cur < end:
        yield Window(cur, cur + step)
        cur += step


def iso(value: datetime) -> str:
    """Format as CloudTrail/CloudWatch do: ``2025-02-11T08:14:09Z`` (milliseconds if non-zero)."""
    v = to_utc(value)
    if v.microsecond:
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    return v.strftime("%Y-%m-%dT%H:%M:%SZ")
