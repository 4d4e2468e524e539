"""nab_uncap: without the cap ever failing it is the default bit for bit; after a flat stretch its σ
finds the new noise within days instead of weeks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_uncap import UncapModel, uncap_scores
from pipeline.anomaly.multiview import MultiViewDetector

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_where_the_cap_rarely_binds_it_is_the_default_detector_bit_for_bit() -> None:
    default = file_scores(FILE, bagless_scores)
    assert file_scores(FILE, uncap_scores, "default") == default
    assert file_scores(FILE, uncap_scores, "uncap") == default  # a latency series with spikes


def _sigma_after_flat(model: UncapModel | None, points: int) -> float:
    """σ of a forecaster fed 2 days of a constant 5.0, then ``points`` values of N(5, 0.5)."""
    rng = np.random.default_rng(1)
    mv = MultiViewDetector(halflife=1000.0, slow_views=False)
    if model is not None:
        mv.model = model
    values = [5.0] * 576 + list(5.0 + rng.normal(0.0, 0.5, points))
    t = 1.7e9
    for x in values:
        mv.judge(t, x)
        t += 300.0
    return mv.forecast(t)[1]


def test_after_a_flat_stretch_sigma_finds_the_new_noise() -> None:
    # σ of N(0, 0.5) residuals is 0.5 (a level forecaster adds ~5 %): the capped trackers grow
    # 3 % a learnt point from ~1e-9, so 300 points after the change they are still far below
    assert 0.35 < _sigma_after_flat(UncapModel(warmup=30), 300) < 0.7
    assert _sigma_after_flat(None, 300) < 0.05
