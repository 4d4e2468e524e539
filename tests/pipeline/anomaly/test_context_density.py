"""pipeline/anomaly/context.py ``density``: rarity counted per 5 minutes of the series, not per point."""

from __future__ import annotations

import json
import math
import random

from pipeline.anomaly import restore_detector
from pipeline.anomaly.context import ContextDetector

DAY = 86_400.0


def _series(step: float, days: int = 10, seed: int = 4) -> tuple[list[float], list[float]]:
    """A daily cycle with Gaussian noise sampled every ``step`` seconds, and one 40-σ spike on the last day."""
    rng = random.Random(seed)
    n = int(days * DAY / step)
    times = [1_700_000_000.0 + step * i for i in range(n)]
    values = [50.0 + 10.0 * math.sin(2 * math.pi * t / DAY) + rng.gauss(0, 1.0) for t in times]
    values[n - int(DAY / step / 2)] += 40.0
    return times, values


def _scores(det: ContextDetector, times: list[float], values: list[float]) -> list[float]:
    return [det.step(t, v).score for t, v in zip(times, values, strict=True)]


def test_from_five_minutes_up_nothing_changes() -> None:
    for step in (300.0, 3600.0):
        times, values = _series(step, days=20 if step > 300 else 10)
        assert _scores(ContextDetector(), times, values) == _scores(ContextDetector(density=False), times, values)


def test_at_one_minute_fewer_false_alerts_and_the_spike_still_alerts() -> None:
    times, values = _series(60.0)
    spike = len(values) - int(DAY / 60 / 2)
    per_point = _scores(ContextDetector(density=False), times, values)
    per_time = _scores(ContextDetector(), times, values)
    false_per_point = sum(s >= 0.5 for i, s in enumerate(per_point) if i != spike)
    false_per_time = sum(s >= 0.5 for i, s in enumerate(per_time) if i != spike)
    assert false_per_time < false_per_point
    assert per_time[spike] >= 0.5 and per_point[spike] >= 0.5
    # the spike's surprise C is read as C − log10 5: score C' / (C' + 3) from C / (C + 3)
    c = 3.0 * per_point[spike] / (1.0 - per_point[spike])
    assert math.isclose(per_time[spike], (c - math.log10(5.0)) / (c - math.log10(5.0) + 3.0), rel_tol=1e-9)


def test_score_one_and_learn_one_agree_with_step() -> None:
    times, values = _series(60.0, days=3)
    a, b = ContextDetector(), ContextDetector()
    got = []
    for t, v in zip(times, values, strict=True):
        got.append(b.score_one(t, v).score)
        b.learn_one(t, v)
    assert got == _scores(a, times, values)


def test_state_round_trips_and_a_state_saved_before_it_counts_per_point() -> None:
    times, values = _series(60.0, days=3)
    d = ContextDetector()
    _scores(d, times[:3000], values[:3000])
    st = json.loads(json.dumps(d.state()))
    assert st["density"] is True
    copy = restore_detector("context", st)
    assert _scores(copy, times[3000:], values[3000:]) == _scores(d, times[3000:], values[3000:])
    st.pop("density")
    assert restore_detector("context", st).density is False


def test_art_period_option_reads_one_minute_series_as_five_minute_means() -> None:
    # not the default (benchmarks/nab_artrate.py): from 5 minutes up it changes nothing; at 1 minute
    # the resonance judge sees one mean per 5-minute bucket, and both scoring paths and a restored
    # state agree
    times, values = _series(300.0)
    assert _scores(ContextDetector(art_period=300.0), times, values) == _scores(ContextDetector(), times, values)
    times, values = _series(60.0, days=4)
    a, b = ContextDetector(art_period=300.0), ContextDetector(art_period=300.0)
    got = []
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        got.append(b.score_one(t, v).score)
        b.learn_one(t, v)
        if i == 2004:  # mid-bucket
            st = json.loads(json.dumps(b.state()))
            assert st["art_period"][1][2] == (t % 300.0) // 60.0 + 1.0  # the bucket's values so far
            b = restore_detector("context", st)
    assert got == _scores(a, times, values) != _scores(ContextDetector(), times, values)
