"""nab_hw: without the fourth forecaster it is the default; with it, a daily cycle whose level moves
from day to day is forecast by level-plus-profile, closer than by any of the three."""

from __future__ import annotations

import math
import random
from pathlib import Path

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_hw import HwModel, hw_scores
from pipeline.anomaly.model import SeasonalModel

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_without_the_fourth_forecaster_it_is_the_default_detector_bit_for_bit() -> None:
    assert file_scores(FILE, hw_scores, "none") == file_scores(FILE, bagless_scores)


def _day_cycle(profile: str) -> tuple[float, float]:
    """Mean |error| over the last week of a 5-minute daily sine (amplitude 10) on a level that
    jumps by up to ±20 each midnight, noise 1: the plain model's pick, then the Holt-Winters one's."""
    rng = random.Random(5)
    plain, hw = SeasonalModel(warmup=30), HwModel(profile, warmup=30)
    t0, level, errs = 1_700_006_400.0, 100.0, ([], [])
    for i in range(21 * 288):
        t = t0 + 300.0 * i
        if i % 288 == 0:
            level += rng.uniform(-20.0, 20.0)
        x = level + 10.0 * math.sin(2 * math.pi * (i % 288) / 288) + rng.gauss(0.0, 1.0)
        for m, e in zip((plain, hw), errs, strict=True):
            b = m.best(t)
            if i >= 14 * 288 and b is not None:
                e.append(abs(x - b[0]))
            m.learn(t, x)
    return sum(errs[0]) / len(errs[0]), sum(errs[1]) / len(errs[1])


def test_a_cycle_on_a_moving_level_is_forecast_by_level_plus_profile() -> None:
    for profile in ("step", "interp"):
        plain, hw = _day_cycle(profile)
        # by hand: the fast level lags a sine of amplitude 10 and period 288 by ~9 points, an error
        # of ~10·2π·9/288 ≈ 2 on the slopes; the slow level cannot follow ±20 a day; level plus
        # profile leaves the noise (mean |N(0,1)| ≈ 0.8) and, read as a step, the hour's slope
        assert hw < 0.8 * plain, (profile, plain, hw)
    assert _day_cycle("interp")[1] < _day_cycle("step")[1]  # a smooth cycle: interpolation is closer
