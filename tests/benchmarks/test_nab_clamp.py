"""nab_clamp: a non-negative series is never forecast below 0; otherwise nothing changes."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_clamp import ClampedModel, UnclampedModel, clamp_scores
from benchmarks.nab_eval import bagless_scores, file_scores
from pipeline.anomaly.model import SeasonalModel

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def _fed(model: SeasonalModel, values: list[float]) -> SeasonalModel:
    for i, v in enumerate(values):
        model.learn(3600.0 * i, v)
    return model


def test_the_forecast_of_a_series_that_was_never_negative_is_at_least_zero() -> None:
    # 3 days of 10 by day (06–18 h) and 0 by night, then a week of 0: the slow level falls towards
    # 0 while the hour profile still says "10 below the level" at night, so the daily forecast of a
    # night hour goes below 0 — as long as the daily forecaster is the one picked
    days = [10.0 if 6 <= h % 24 < 18 else 0.0 for h in range(72)] + [0.0] * 168
    plain, clamped = _fed(UnclampedModel(warmup=30), days), _fed(ClampedModel(warmup=30), days)
    night = 3600.0 * (240 + 2)
    p, sigma = plain.best(night)
    assert p < 0  # the plain forecast of 02:00 (about −0.27)
    assert clamped.best(night) == (0.0, sigma)
    for h in range(240, 264):
        assert clamped.best(3600.0 * h)[0] >= 0.0
    # once a negative value is seen, the forecast is the plain one
    neg = _fed(ClampedModel(warmup=30), [*days, -1.0])
    ref = _fed(SeasonalModel(warmup=30), [*days, -1.0])
    assert neg.best(3600.0 * 241) == ref.best(3600.0 * 241)


def test_the_default_kind_is_the_default_detector_bit_for_bit() -> None:
    assert file_scores(FILE, clamp_scores, "default") == file_scores(FILE, bagless_scores)


def test_the_forecaster_clamps_since_the_twenty_fourth_session() -> None:
    days = [10.0 if 6 <= h % 24 < 18 else 0.0 for h in range(72)] + [0.0] * 168
    night = 3600.0 * (240 + 2)
    assert _fed(SeasonalModel(warmup=30), days).best(night) == _fed(ClampedModel(warmup=30), days).best(night)
