"""Choose the tier and period of a metric query the way CloudWatch does (aws-semantics.md §1.4–1.5).

* The finest resolution available depends on how old ``start`` is (relative to ``now``):
  under 15 days → 60 s, 15–63 days → 300 s, older → 3600 s. ``start`` is floored to that
  resolution (12:32:34 → 12:32:00 / 12:30:00 / 12:00:00).
* With no period given, the period is the smallest "nice" period (1, 2, 5, 10, 15, 30 min,
  1, 2, 3, 6, 12 h, whole days) that is a multiple of that resolution and keeps the number of
  points within ``max_points`` (the console's and Grafana's behaviour).
* A given period must be a positive multiple of 60; if it is not a multiple of the resolution
  available for ``start``, CloudWatch returns **no datapoints** (not an error): so do we
  (:attr:`Plan.empty`). More than ``max_points`` points is an error (GetMetricStatistics'
  1,440 rule), naming the smallest period that would fit.
* The tier read is the coarsest one whose period divides both the query period and the
  (floored) start's offset, so buckets line up; it is never finer than the data available.

StartTime is inclusive and EndTime exclusive; query buckets are ``[start + i·period,
start + (i+1)·period)``, stamped with their start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.errors import QueryError
from pipeline.timeutil import epoch_ms, floor, to_utc, utcnow

TIER_PERIODS = {"1m": 60, "5m": 300, "1h": 3600}
TIER_TABLES = {"1m": "metrics_1m", "5m": "metrics_5m", "1h": "metrics_1h"}
HIGH_RES_DAYS = 15    # 1-minute data is available for 15 days
MEDIUM_RES_DAYS = 63  # 5-minute data for 63 days, then 1 hour
NICE_PERIODS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]


@dataclass(frozen=True)
class Plan:
    """What to read: ``tier`` at ``period`` seconds over ``[start, end)``; ``empty`` means
    CloudWatch would return no datapoints for this request."""

    tier: str
    period: int
    start: datetime
    end: datetime
    resolution: int
    empty: bool = False

    @property
    def table(self) -> str:
        return TIER_TABLES[self.tier]

    @property
    def points(self) -> int:
        return max(0, math.ceil((self.end - self.start).total_seconds() / self.period))


def resolution_for(start: datetime, now: datetime) -> int:
    """Finest period (seconds) CloudWatch keeps for data starting at ``start``."""
    age = to_utc(now) - to_utc(start)
    if age <= timedelta(days=HIGH_RES_DAYS):
        return 60
    if age <= timedelta(days=MEDIUM_RES_DAYS):
        return 300
    return 3600


def auto_period(seconds: float, resolution: int, max_points: int) -> int:
    """Smallest nice period, a multiple of ``resolution``, giving at most ``max_points`` points."""
    for p in NICE_PERIODS:
        if p % resolution == 0 and math.ceil(seconds / p) <= max_points:
            return p
    days = max(1, math.ceil(seconds / max_points / 86400))
    return days * 86400


def choose_tier(period: int, start: datetime, resolution: int) -> str:
    """Coarsest tier whose period divides ``period`` and ``start``'s epoch offset, and is not
    finer than ``resolution``."""
    offset = epoch_ms(start) // 1000
    best = None
    for name, p in TIER_PERIODS.items():
        if p >= resolution and period % p == 0 and offset % p == 0:
            best = name
    if best is None:  # cannot happen: start is floored to the resolution, a multiple of 60
        raise QueryError(f"no tier can answer period {period}s from {start.isoformat()}")
    return best


def plan(start: datetime, end: datetime, period: int | None = None, *,
         max_points: int = 1440, now: datetime | None = None) -> Plan:
    """Plan a query (see the module docstring).

    Raises:
        QueryError: end not after start, a bad period, or too many points for the budget.
    """
    now = to_utc(now) if now is not None else utcnow()
    start, end = to_utc(start), to_utc(end)
    if max_points < 1:
        raise QueryError(f"max_points must be positive (got {max_points})")
    if end <= start:
        raise QueryError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    resolution = resolution_for(start, now)
    start = floor(start, resolution)
    span = (end - start).total_seconds()
    if period is None:
        period = auto_period(span, resolution, max_points)
    elif period <= 0:
        raise QueryError(f"period must be positive (got {period})")
    elif period % 60:
        raise QueryError(f"period {period}s is not a multiple of 60; rollup tiers are 1 minute "
                         "and coarser (sub-minute high-resolution periods are not rolled up)")
    if period % resolution:
        return Plan("1m", period, start, end, resolution, empty=True)
    p = Plan(choose_tier(period, start, resolution), period, start, end, resolution)
    if p.points > max_points:
        need = math.ceil(span / max_points / resolution) * resolution
        raise QueryError(f"{p.points} datapoints exceed the limit of {max_points}; "
                         f"use a period of at least {need}s or a shorter range")
    return p
