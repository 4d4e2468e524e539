"""pipeline/anomaly/model.py: σ's floors are relative, so a series is judged the same in any unit."""

from __future__ import annotations

import math
import random

import pytest

from pipeline.anomaly import make_detector
from pipeline.anomaly.model import SIGMA_MIN, SeasonalModel

DAY = 288


def _series(scale: float) -> tuple[list[float], list[float], int]:
    """Three days of a 5-minute daily cycle with noise, and one 12-σ spike on the third day."""
    rng = random.Random(3)
    values = [scale * (50.0 + 10.0 * math.sin(2 * math.pi * i / DAY) + rng.gauss(0, 1.0)) for i in range(3 * DAY)]
    spike = 2 * DAY + 100
    values[spike] += 12.0 * scale
    return [1_700_000_000.0 + 300.0 * i for i in range(len(values))], values, spike


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1e6])
def test_a_series_in_other_units_is_judged_the_same(scale):
    # before σ's floor was relative (10⁻⁹ · (|forecast| + 1)) the spike scaled by 10⁻¹² read as
    # a thousandth of a σ and was not found
    found = {}
    for s in (1.0, scale):
        times, values, spike = _series(s)
        det = make_detector()
        scores = [det.step(t, x).score for t, x in zip(times, values, strict=True)]
        found[s] = {i for i, v in enumerate(scores) if v >= 0.5}
        assert spike in found[s]
    assert found[scale] == found[1.0]


def test_sigma_never_below_its_last_floor_on_a_flat_zero_series():
    m = SeasonalModel()
    for i in range(200):
        m.learn(300.0 * i, 0.0)
    best = m.best(300.0 * 200)
    assert best is not None and best[1] >= SIGMA_MIN
    assert math.isfinite(2.0 ** 360 / best[1])  # the largest value CloudWatch holds stays finitely many σ


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1e9])
def test_error_trackers_recover_from_a_flat_stretch_at_the_same_pace_in_any_unit(scale):
    # the trackers cap a residual at 4·err + ε; with ε an absolute 10⁻¹² a series in small units
    # left a flat stretch at once and one in large units took ~900 more points
    rng = random.Random(5)
    raw = [100.0] * 600 + [100.0 + rng.gauss(0, 5.0) for _ in range(300)]
    errs = {}
    for s in (1.0, scale):
        m = SeasonalModel()
        for i, x in enumerate(raw):
            m.learn(300.0 * i, x * s)
        errs[s] = [e / s for e in m.err]
    assert errs[scale] == pytest.approx(errs[1.0], rel=1e-6)


def test_a_real_series_scaled_by_a_trillionth_alerts_on_the_same_rows():
    from benchmarks.nab_eval import CORPUS, detector_scores
    from pipeline.anomaly.series_io import read_series

    sf = read_series(CORPUS / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    times = [sf.times[i] for i in sf.order]
    values = [sf.values[i] for i in sf.order]
    alerts = {}
    for s in (1.0, 1e-12):
        scores = detector_scores(times, [v * s for v in values], "context", {})
        alerts[s] = [i for i, v in enumerate(scores) if v >= 0.476]
    assert alerts[1.0] and alerts[1e-12] == alerts[1.0]
