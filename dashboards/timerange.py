"""The shared time range: presets anchored at the lake's newest data, in UTC.

The sample data lives in the past, so "Last 24 hours" means the 24 hours ending at the newest
event in the lake, not at the wall clock. Ranges are half-open ``[start, end)``; ``end`` is the
newest data time rounded up to the next whole minute, so the newest event is always inside.

>>> from datetime import datetime, UTC
>>> newest = datetime(2026, 11, 9, 23, 59, 30, tzinfo=UTC)
>>> s, e = resolve("Last 1 hour", oldest=None, newest=newest)
>>> s.isoformat(), e.isoformat()
('2026-11-09T23:00:00+00:00', '2026-11-10T00:00:00+00:00')
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pipeline.timeutil import floor, shift, to_utc, utcnow

PRESETS: dict[str, int] = {
    "Last 15 minutes": 900,
    "Last 1 hour": 3600,
    "Last 6 hours": 6 * 3600,
    "Last 24 hours": 86400,
    "Last 3 days": 3 * 86400,
    "Last 7 days": 7 * 86400,
    "Last 30 days": 30 * 86400,
}
ALL = "All data"
CUSTOM = "Custom (UTC)"
CHOICES: list[str] = [*PRESETS, ALL, CUSTOM]
DEFAULT = "Last 24 hours"


def anchor(newest: datetime | None) -> datetime:
    """End of every preset range: the newest data time rounded up to a whole minute (the wall
    clock when the lake is empty)."""
    t = to_utc(newest) if newest is not None else utcnow()
    return shift(floor(t, 60), timedelta(seconds=60))


def resolve(choice: str, *, oldest: datetime | None, newest: datetime | None,
            custom: tuple[date, time, date, time] | None = None,
            latest: datetime | None = None) -> tuple[datetime, datetime]:
    """``(start, end)`` of a picker choice; raises ValueError for an unknown choice or a custom
    range that ends before it starts. Presets end at ``newest`` (the page's anchor); "All data"
    runs from ``oldest`` to ``latest`` (the very newest row, outliers included; default ``newest``)."""
    end = anchor(newest)
    if choice in PRESETS:
        return shift(end, -timedelta(seconds=PRESETS[choice])), end
    if choice == ALL:
        end = max(end, anchor(latest)) if latest is not None else end
        start = floor(to_utc(oldest), 60) if oldest is not None else shift(end, -timedelta(days=1))
        return start, end
    if choice == CUSTOM:
        if custom is None:
            raise ValueError("custom range needs start and end")
        d0, t0, d1, t1 = custom
        start = datetime.combine(d0, t0, tzinfo=UTC)
        stop = datetime.combine(d1, t1, tzinfo=UTC)
        if stop <= start:
            raise ValueError("the end of the range must be after its start")
        return start, stop
    raise ValueError(f"unknown time range {choice!r}")


OUTLIER_GAP = timedelta(days=2)
OUTLIER_SHARE = 0.01


def partition_start(values: tuple[str, ...]) -> datetime:
    """Start of a time partition from its ``dt``/``hour`` or ``month`` values
    (``("2026-11-09", "07")`` → 2026-11-09 07:00 UTC, ``("2026-11",)`` → 2026-11-01)."""
    if len(values[0]) == 7:
        return datetime.strptime(values[0], "%Y-%m").replace(tzinfo=UTC)
    day = datetime.strptime(values[0], "%Y-%m-%d").replace(tzinfo=UTC)
    return day + timedelta(hours=int(values[1])) if len(values) > 1 else day


def trusted_newest(partitions: list[tuple[datetime, int]], gap: timedelta = OUTLIER_GAP,
                   share: float = OUTLIER_SHARE) -> int:
    """Index (into ``partitions``, sorted by start, each ``(start, rows)``) of the newest partition
    a default range may be anchored on.

    A stray event stamped far in the future (a clock error, a typo) must not move every preset
    range away from the data. So the newest partitions are dropped while they are cut off from
    the older ones by more than ``gap`` *and* hold at most ``share`` of all rows together; a live
    lake's newest hour is contiguous with the hour before it and is always kept. Raises
    ValueError on an empty list."""
    if not partitions:
        raise ValueError("no partitions")
    total = sum(r for _, r in partitions) or 1
    keep = len(partitions) - 1
    tail = 0
    i = keep
    while i > 0:
        tail += partitions[i][1]
        if tail > share * total:
            break
        if partitions[i][0] - partitions[i - 1][0] > gap:
            keep = i - 1
        i -= 1
    return keep


def common_newest(newest: dict[str, datetime], gap: timedelta = OUTLIER_GAP) -> tuple[str, datetime] | None:
    """The table (and its newest time) a page's presets end at: the newest of the tables, after
    dropping tables whose data ends more than ``gap`` after every other's (e.g. Kinesis records a
    demo stamped with today's wall clock, beside months-old sample CloudTrail and metrics). None
    when ``newest`` is empty."""
    ranked = sorted(newest.items(), key=lambda kv: kv[1], reverse=True)
    while len(ranked) > 1 and ranked[0][1] - ranked[1][1] > gap:
        ranked.pop(0)
    return ranked[0] if ranked else None


def bucket_seconds(start: datetime, end: datetime, max_buckets: int = 300) -> int:
    """A friendly histogram bucket so that the range holds at most ``max_buckets`` buckets."""
    span = max(1.0, (end - start).total_seconds())
    for step in (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400):
        if span / step <= max_buckets:
            return step
    return 30 * 86400


def label(start: datetime, end: datetime) -> str:
    """``2026-11-08 00:00 → 2026-11-09 00:00 UTC``."""
    return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"


def dt_bounds(start: datetime, end: datetime) -> tuple[str, str]:
    """The ``dt`` partition values (inclusive) that can hold events of ``[start, end)``."""
    last = shift(to_utc(end), -timedelta(milliseconds=1))
    return f"{to_utc(start):%Y-%m-%d}", f"{last:%Y-%m-%d}"
