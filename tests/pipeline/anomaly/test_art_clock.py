"""pipeline/anomaly/art_clock.py: the resonance judge's probation and masks counted in time."""

from __future__ import annotations

import json
import math
import random

import pytest

from pipeline.anomaly import restore_detector
from pipeline.anomaly.art import ArtJudge
from pipeline.anomaly.art_clock import CLOCK_AT, MAX_FACTOR, clock_factor, reclock
from pipeline.anomaly.context import ContextDetector

DAY = 86_400.0


def _series(step: float, days: float, seed: int = 7) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    n = int(days * DAY / step)
    times = [1_700_000_000.0 + step * i for i in range(n)]
    values = [20.0 + 5.0 * math.sin(2 * math.pi * t / DAY) + rng.gauss(0, 1.0) for t in times]
    values[n - 500] += 30.0
    return times, values


def _scores(det: ContextDetector, times: list[float], values: list[float]) -> list[float]:
    return [det.step(t, v).score for t, v in zip(times, values, strict=True)]


def test_clock_factor_is_five_minutes_over_the_interval() -> None:
    intervals = (0.0, 60.0, 150.0, 100.0, 290.0, 300.0, 3600.0, 1.0)
    assert [clock_factor(dt) for dt in intervals] == [1, 5, 2, 3, 1, 1, 1, 60]


def test_a_reclocked_judge_is_the_judge_built_with_the_longer_probation() -> None:
    # independent reference: the constructor's own arithmetic for a 3,750-value probation in blocks of 7
    times, values = _series(60.0, days=5)
    det = ContextDetector(art_clock=True)
    ref = ArtJudge(probation=3750, windows_per_probation=65)
    ref.mask = 60  # 12 blocks × 5
    for t, v in zip(times, values, strict=True):
        det.step(t, v)
        ref.push(v)
    got, want = det.art.state(), ref.state()
    assert (got["probation"], got["step"], got["trend"], got["mask"]) == (3750, 7, 535, 60)
    assert got == want


def test_from_five_minutes_up_nothing_changes() -> None:
    times, values = _series(300.0, days=12)
    assert _scores(ContextDetector(art_clock=True), times, values) == _scores(ContextDetector(), times, values)


def test_both_scoring_paths_and_a_restored_state_agree_at_one_minute() -> None:
    times, values = _series(60.0, days=4)
    a, b = ContextDetector(art_clock=True), ContextDetector(art_clock=True)
    want = _scores(a, times, values)
    got = []
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if i in (CLOCK_AT - 1, CLOCK_AT, 4000):  # across the moment the clock is read, and after the probation
            b = restore_detector("context", json.loads(json.dumps(b.state())))
        got.append(b.score_one(t, v).score)
        b.learn_one(t, v)
    assert got == want
    assert b.art.state()["probation"] == 3750


def test_only_a_default_judge_in_its_probation_is_reclocked() -> None:
    j = ArtJudge()
    reclock(j, 1)
    assert j.probation == 750
    reclock(j, 3)
    assert (j.probation, j.trend, j.mask) == (2250, 321, 36)
    with pytest.raises(ValueError):
        reclock(j, 3)  # already stretched
    st = ContextDetector().state()
    st.pop("art_clock")
    assert restore_detector("context", st).art_clock is False  # states saved before it: off


def test_a_series_sampled_every_5_seconds_is_clocked_at_the_cap_and_stays_bounded() -> None:
    # 60 × the probation (62.5 hours of 5-second values, ranked without a cosine matrix), then a
    # 30-σ spike on the last day is still an alert; the judge's state is bounded by the cap
    times, values = _series(5.0, days=3.5)
    spike = len(values) - 500
    det = ContextDetector()
    scores = _scores(det, times, values)
    st = det.art.state()
    assert (st["probation"], st["mask"], st["buf"]) == (750 * MAX_FACTOR, 12 * MAX_FACTOR, None)
    assert len(st["sim_win"]) + len(st["sim_diff"]) <= (54 + 108) * MAX_FACTOR
    assert scores[spike] >= 0.5
