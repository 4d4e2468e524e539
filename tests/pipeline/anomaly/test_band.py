"""expected_band: causality, warm-up, width in k, clamping, seasonality and outlier protection."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.anomaly.band import expected_band

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _times(n: int, minutes: int = 5) -> list[datetime]:
    return [T0 + timedelta(minutes=minutes * i) for i in range(n)]


def _noise(n: int, seed: int = 1, level: float = 50.0, sd: float = 2.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(level, sd) for _ in range(n)]


def test_aligned_and_none_during_warmup() -> None:
    vals = _noise(100)
    b = expected_band(_times(100), vals)
    assert len(b.expected) == len(b.lower) == len(b.upper) == 100
    assert all(v is None for v in b.expected[:30])
    assert all(v is not None for v in b.expected[30:])


def test_causal_future_values_do_not_change_past_band() -> None:
    vals = _noise(400)
    changed = vals[:250] + [v * 10 for v in vals[250:]]
    a, b = expected_band(_times(400), vals), expected_band(_times(400), changed)
    assert a.expected[:251] == b.expected[:251]
    assert a.upper[:251] == b.upper[:251]


def test_width_scales_with_k_in_residual_standard_deviations() -> None:
    vals = _noise(600, sd=3.0)
    b1, b3 = expected_band(_times(600), vals, k=1), expected_band(_times(600), vals, k=3.5)
    for i in range(100, 600, 50):
        e = b1.expected[i]
        assert e is not None and b3.expected[i] == e
        assert b3.upper[i] - e == pytest.approx(3.5 * (b1.upper[i] - e))
    # for Gaussian noise of sd 3, σ of one-step residuals is ≈ 3·sqrt(1 + α/(2-α)) ≈ 3.1
    half = b1.upper[500] - b1.expected[500]
    assert 2.4 < half < 3.9
    inside = sum(1 for v, lo, up in zip(vals[200:], b3.lower[200:], b3.upper[200:])
                 if lo <= v <= up)
    assert inside / 400 > 0.97


def test_lower_clamped_at_zero_for_non_negative_series() -> None:
    rng = random.Random(3)
    vals = [abs(rng.gauss(0.5, 1.0)) for _ in range(300)]
    b = expected_band(_times(300), vals, k=3)
    assert min(v for v in b.lower if v is not None) == 0.0


def test_a_count_that_stops_is_never_expected_below_zero() -> None:
    # a business-hours count (10 from 06 to 18 h, 0 at night) for 3 days, then a week of 0: the
    # slow level sinks towards 0 while the hour profile still says "10 below it" at night, so before
    # the forecaster was floored the night forecast went down to −7 (223 points below 0)
    vals = [10.0 if 6 <= (i // 12) % 24 < 18 else 0.0 for i in range(3 * 288)] + [0.0] * (7 * 288)
    b = expected_band(_times(len(vals)), vals)
    assert min(e for e in b.expected if e is not None) == 0.0
    assert all(lo <= up for lo, up in zip(b.lower, b.upper, strict=True) if lo is not None and up is not None)


def test_missing_values_get_a_band_but_are_not_learnt() -> None:
    vals: list[float | None] = list(_noise(200))
    vals[150] = None
    b = expected_band(_times(200), vals)
    assert b.expected[150] is not None and b.expected[151] == pytest.approx(b.expected[150])


def test_spike_is_not_learnt() -> None:
    vals = _noise(500, sd=1.0)
    spiked = list(vals)
    spiked[300] = 500.0
    a, b = expected_band(_times(500), vals), expected_band(_times(500), spiked)
    # learning 500 with the level's α = 0.1 would move the forecast by ~45
    assert abs(b.expected[301] - a.expected[301]) < 1.0
    assert b.upper[301] - b.expected[301] == pytest.approx(a.upper[301] - a.expected[301], rel=0.02)


def test_daily_seasonality_is_learnt() -> None:
    n = 12 * 24 * 6  # six days of 5-minute points
    rng = random.Random(7)
    vals = [100 + 40 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 2) for i in range(n)]
    b = expected_band(_times(n), vals)
    last_day = range(n - 288, n)
    err = sum(abs(vals[i] - b.expected[i]) for i in last_day) / 288
    assert err < 4.0  # a flat forecast would be off by ~25 on average
    inside = sum(1 for i in last_day if b.lower[i] <= vals[i] <= b.upper[i])
    assert inside / 288 > 0.85


def test_band_is_the_default_detectors_band_on_a_real_series(shared_data) -> None:
    """One detector serves alarms, dashboards and anomaly scores: on a real NAB series (with its
    labelled failure) the band at k = 2 is exactly the ``expected`` / ``lower`` / ``upper`` the
    anomaly job writes from the default detector, and k only rescales the width."""
    from pipeline.anomaly import DEFAULT_DETECTOR, make_detector
    from pipeline.anomaly.series_io import read_series

    sf = read_series(shared_data / "nab-dev" / "data" / "ec2_request_latency_system_failure.csv")
    ts = [datetime.fromtimestamp(sf.times[i], UTC) for i in sf.order]
    vals = [sf.values[i] for i in sf.order]
    det = make_detector(DEFAULT_DETECTOR)
    job = [det.step(t.timestamp(), v) for t, v in zip(ts, vals, strict=True)]
    b2, b3 = expected_band(ts, vals, k=2), expected_band(ts, vals, k=3)
    assert b2.expected == [s.expected for s in job]
    assert b2.lower == [s.lower for s in job] and b2.upper == [s.upper for s in job]
    assert b3.expected == b2.expected
    for e, u2, u3 in zip(b2.expected[100:], b2.upper[100:], b3.upper[100:], strict=True):
        assert u3 - e == pytest.approx(1.5 * (u2 - e))
