"""Tier and period choice, checked against CloudWatch's documented rules (aws-semantics.md §1.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import QueryError
from pipeline.query.planner import auto_period, plan

NOW = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)


def test_start_floored_by_age():
    t = datetime(2026, 11, 8, 12, 32, 34, tzinfo=UTC)          # 1 day old → whole minute
    assert plan(t, NOW, now=NOW).start == datetime(2026, 11, 8, 12, 32, tzinfo=UTC)
    t = NOW - timedelta(days=20) + timedelta(minutes=2, seconds=34)  # 15–63 days → 5 minutes
    assert plan(t, NOW, 3600, now=NOW).start.minute % 5 == 0
    assert plan(t, NOW, 3600, now=NOW).start.second == 0
    t = NOW - timedelta(days=100) + timedelta(minutes=32)       # > 63 days → the hour
    assert plan(t, t + timedelta(days=1), 3600, now=NOW).start.minute == 0


def test_old_data_needs_coarse_periods_else_empty():
    p = plan(NOW - timedelta(days=20), NOW - timedelta(days=19), 60, now=NOW)
    assert p.empty                               # 1-minute data is gone after 15 days
    p = plan(NOW - timedelta(days=20), NOW - timedelta(days=19), 300, now=NOW)
    assert not p.empty and p.tier == "5m"
    assert plan(NOW - timedelta(days=70), NOW - timedelta(days=69), 300, now=NOW).empty
    assert plan(NOW - timedelta(days=70), NOW - timedelta(days=69), 3600, now=NOW).tier == "1h"


def test_auto_period_from_points_budget():
    assert plan(NOW - timedelta(hours=3), NOW, now=NOW).period == 60       # 180 points
    assert plan(NOW - timedelta(days=3), NOW, now=NOW).period == 300       # 4320 min / 1440 → 3 → 5 min
    assert plan(NOW - timedelta(days=15), NOW, now=NOW).period == 900      # 21600 min / 1440 = 15
    p = plan(NOW - timedelta(days=1), NOW, max_points=24, now=NOW)
    assert p.period == 3600 and p.tier == "1h" and p.points == 24
    assert plan(NOW - timedelta(days=30), NOW, now=NOW).period % 300 == 0  # never finer than data
    assert auto_period(86400 * 400, 3600, 1440) == 43200  # 800 points
    assert auto_period(86400 * 4000, 3600, 1440) == 3 * 86400


def test_tier_is_coarsest_that_lines_up():
    assert plan(datetime(2026, 11, 9, 10, tzinfo=UTC), NOW, 3600, now=NOW).tier == "1h"
    # a start at :32 cannot use 5m or 1h buckets
    assert plan(datetime(2026, 11, 9, 10, 32, tzinfo=UTC), NOW, 3600, now=NOW).tier == "1m"
    assert plan(datetime(2026, 11, 9, 10, 35, tzinfo=UTC), NOW, 600, now=NOW).tier == "5m"


def test_errors():
    with pytest.raises(QueryError, match="not after"):
        plan(NOW, NOW, now=NOW)
    with pytest.raises(QueryError, match="multiple of 60"):
        plan(NOW - timedelta(hours=1), NOW, 90, now=NOW)
    with pytest.raises(QueryError, match="exceed the limit of 1440.*at least 120s"):
        plan(NOW - timedelta(days=2), NOW, 60, now=NOW)
