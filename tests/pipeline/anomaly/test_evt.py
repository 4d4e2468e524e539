"""SPOT tail calibration (pipeline/anomaly/evt.py): the GPD fit recovers known tails, tail
probabilities by hand, SPOT's learning rule, bounded state, DSPOT on a drifting stream."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from pipeline.anomaly.calibrate import TailCalibrator
from pipeline.anomaly.evt import DriftSpot, Spot, SpotTailCalibrator, gpd_fit


def _gpd_sample(gamma: float, sigma: float, n: int, seed: int) -> np.ndarray:
    """Inverse-CDF draws: ``y = σ/γ · (U^(−γ) − 1)`` (exponential ``−σ log U`` when γ = 0)."""
    u = np.random.default_rng(seed).random(n)
    return -sigma * np.log(u) if gamma == 0 else sigma / gamma * (u ** -gamma - 1.0)


def _loglik(y: np.ndarray, gamma: float, sigma: float) -> float:
    if gamma == 0:
        return float(-len(y) * math.log(sigma) - y.sum() / sigma)
    return float(-len(y) * math.log(sigma) - (1 + 1 / gamma) * np.log1p(gamma * y / sigma).sum())


@pytest.mark.parametrize(("gamma", "sigma"), [(0.0, 2.0), (0.5, 1.0), (-0.3, 3.0)])
def test_gpd_fit_recovers_the_generating_tail(gamma: float, sigma: float) -> None:
    y = _gpd_sample(gamma, sigma, 4000, seed=11)
    g, s = gpd_fit(y)
    assert abs(g - gamma) < 0.08 and abs(s / sigma - 1) < 0.1
    # a maximum-likelihood fit is at least as likely as the truth on its own sample
    assert _loglik(y, g, s) >= _loglik(y, gamma, sigma) - 1e-6


def test_tail_probability_by_hand() -> None:
    sp = Spot(n_init=1000)
    for v in range(1000):  # 0..999: the 0.98 quantile is 980, 19 values above it
        sp.learn(float(v))
    assert sp.ready and sp.t == 980.0 and (sp.n, sp.nt) == (1000, 19) and len(sp.init) == 0
    assert sorted(sp.peaks) == [float(i) for i in range(1, 20)]
    sp.gamma, sp.sigma = 0.5, 1.0  # set by hand: tail(t + 2) = 19/1000 · (1 + 0.5·2)^(−2)
    assert sp.tail(982.0) == pytest.approx(0.019 * 0.25)
    assert sp.surprise(982.0) == pytest.approx(-math.log10(0.019 * 0.25))
    sp.gamma, sp.sigma = 0.0, 2.0  # exponential: 19/1000 · e^(−3/2)
    assert sp.tail(983.0) == pytest.approx(0.019 * math.exp(-1.5))
    sp.gamma = -0.5  # bounded tail, end point t + σ/0.5 = 984: beyond it the probability is 0
    assert sp.tail(985.0) == 0.0 and sp.surprise(985.0) == 300.0
    assert sp.tail(900.0) == 1.0 and sp.surprise(900.0) == 0.0


def test_learning_rule_alarms_are_not_learnt_and_state_is_bounded() -> None:
    rng = random.Random(5)
    sp = Spot(n_init=500, max_peaks=50)
    for _ in range(500):
        sp.learn(rng.expovariate(1.0))
    n, nt = sp.n, sp.nt
    sp.learn(0.1)  # below t: counted only
    assert (sp.n, sp.nt) == (n + 1, nt)
    sp.learn(60.0)  # e^-60: far below the risk 1e-4 — an alarm, not learnt
    assert (sp.n, sp.nt) == (n + 1, nt)
    big = Spot(n_init=500)
    for _ in range(20000):
        v = rng.expovariate(1.0)
        sp.learn(v)
        big.learn(v)
    assert len(sp.peaks) == 50  # the ring, not every peak
    # the fitted tail matches the peaks it was fitted to (~500 of them) ...
    peaks = np.asarray(big.peaks)
    assert big.tail(big.t + 2.0) / (big.nt / big.n) == pytest.approx((peaks > 2.0).mean(), rel=0.25)
    # ... and is roughly the exponential(1) tail e^−y (alarms, never learnt, thin it a little)
    assert 0.5 < big.tail(big.t + 2.0) / (big.nt / big.n) / math.exp(-2.0) < 1.2
    copy = Spot.from_state(json.loads(json.dumps(sp.state())))
    vals = [rng.expovariate(1.0) for _ in range(300)]
    assert [copy.surprise_learn(v) for v in vals] == [sp.surprise_learn(v) for v in vals]


def test_drift_spot_follows_a_ramp_and_flags_a_jump() -> None:
    rng = random.Random(9)
    ds = DriftSpot(depth=10, n_init=500)
    xs = [0.01 * i + rng.gauss(0, 1) for i in range(3000)]  # a slow ramp in unit noise
    out = [ds.surprise_learn(x) for x in xs]
    assert out[:10] == [0.0] * 10
    late = out[1500:]
    assert sum(s >= 3.0 for s in late) <= 5  # one-in-1,000 alarms on 1,500 ramp values: a few
    assert ds.surprise_learn(xs[-1] + 12.0) > 4.0  # a 12σ jump: far in the fitted tail


def test_spot_tail_calibrator_prices_a_new_maximum_of_a_heavy_tailed_view() -> None:
    """Pareto(1.5) values (P(X > x) = x^−1.5, a GPD tail of shape 1/1.5): a value of 3,000, far past
    the largest seen (~800), has true tail 3000^−1.5 ≈ 6.1e-6 (surprise 5.22). The histogram's fixed
    (max/raw)⁴ extrapolation calls it ~1,000 times rarer; the fitted tail is much nearer — nearest
    when every value is learnt (risk 0); SPOT's rule of not learning alarms (risk 1e-4) thins the
    tail it sees, so it overstates a little."""
    rng = np.random.default_rng(4)
    xs = rng.random(20000) ** (-1 / 1.5)
    hist, spot, every = TailCalibrator(1, 1e9), SpotTailCalibrator(1, 1e9), SpotTailCalibrator(1, 1e9, q=0.0)
    for x in xs:
        for cal in (hist, spot, every):
            b: list[int] = []
            cal.surprise([0], [float(x)], b)
            cal.learn([0], [float(x)], b)
    assert max(xs) < 3000.0
    truth = 1.5 * math.log10(3000.0)
    s_hist, s_spot, s_every = (c.surprise([0], [3000.0], []) for c in (hist, spot, every))
    assert s_hist - truth > 2.5
    assert 0.0 < s_spot - truth < s_hist - truth - 1.0
    assert abs(s_every - truth) < 0.5
    assert abs(every.spots[0].gamma - 1 / 1.5) < 0.15
    # below the SPOT threshold (the 98 % quantile) all read the same histogram
    assert spot.surprise([0], [1.5], []) == hist.surprise([0], [1.5], [])


def test_an_unbounded_spot_never_fits_an_end_point() -> None:
    """Uniform peaks have a bounded tail (γ = −1): the plain fit finds an end point past which
    every value is 'impossible' (tail 0); ``unbounded`` takes the γ ≥ 0 maximum, the exponential
    with the peaks' mean."""
    plain, free = Spot(n_init=1000), Spot(n_init=1000, unbounded=True)
    for v in range(1000):
        plain.learn(float(v))
        free.learn(float(v))
    assert plain.gamma < -0.5 and plain.tail(plain.t + 50.0) == 0.0
    assert (free.gamma, free.sigma) == (0.0, pytest.approx(10.0))  # peaks 1..19: mean 10
    assert free.tail(free.t + 50.0) == pytest.approx(0.019 * math.exp(-5.0))
