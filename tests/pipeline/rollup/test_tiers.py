"""Start-up validation of the tier chain (periods and retention)."""

from __future__ import annotations

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.rollup.tiers import partition_range
from pipeline.tierchain import DAY, Tier, validate_tiers


def test_defaults_are_valid():
    s = load_settings(env={})
    assert (s.tiers.m1_days, s.tiers.m5_days, s.tiers.h1_days) == (15, 63, 455)


def test_period_must_be_multiple_of_source():
    chain = [Tier("1m", 60, "metrics_1m", 15 * DAY, "raw"), Tier("7m", 420, "x", 63 * DAY, "1m"),
             Tier("1h", 3600, "y", 455 * DAY, "7m")]
    with pytest.raises(ConfigError, match="divide one day"):
        validate_tiers(chain, raw_keep_seconds=15 * DAY, recompute_window_seconds=7200)
    chain = [Tier("2m", 120, "a", 15 * DAY, "raw"), Tier("5m", 300, "b", 63 * DAY, "2m")]
    with pytest.raises(ConfigError, match="not a multiple of its source 2m's 120s"):
        validate_tiers(chain, raw_keep_seconds=15 * DAY, recompute_window_seconds=7200)


@pytest.mark.parametrize("env,key", [
    ({"WATCHLAKE__TIERS__RECOMPUTE_WINDOW_MINUTES": str(16 * 1440)}, "tiers.raw_days"),
    ({"WATCHLAKE__TIERS__RAW_DAYS": "1", "WATCHLAKE__TIERS__RECOMPUTE_WINDOW_MINUTES": "1440"},
     "tiers.raw_days"),
    ({"WATCHLAKE__TIERS__M5_DAYS": "10"}, "tiers.m5_days"),
    ({"WATCHLAKE__TIERS__RECOMPUTE_WINDOW_MINUTES": "240"}, "tiers.raw_highres_hours"),
])
def test_retention_that_starves_a_tier_is_refused_at_startup(env, key):
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    assert err.value.key == key


def test_partition_ranges():
    lo, hi = partition_range({"month": "2026-12"})
    assert (lo.isoformat(), hi.isoformat()) == ("2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
    lo, hi = partition_range({"dt": "2026-11-05", "hour": "23"})
    assert (lo.hour, (hi - lo).total_seconds()) == (23, 3600)
