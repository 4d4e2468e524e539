"""Bayesian online change-point detection (pipeline/anomaly/bocpd.py): the run-length posterior
by hand, the judge's |z| on spikes and shifts, bounded state on a real NAB series."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pipeline.anomaly.bocpd import Bocpd, bocpd_raw
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"


def _student_logpdf(x: float, mu: float, kappa: float, alpha: float, beta: float) -> float:
    """Normal-Gamma posterior predictive (Student-t, ν = 2α, scale² = β(κ+1)/(ακ)), written out."""
    nu, s2 = 2 * alpha, beta * (kappa + 1) / (alpha * kappa)
    return (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi * s2)
            - (nu + 1) / 2 * math.log1p((x - mu) ** 2 / (nu * s2)))


def test_run_length_posterior_by_hand():
    h = 1 / 50
    b = Bocpd(hazard=50, report_after=0)
    b.step(10.0)  # one run so far: it grows with 1 − H, a new one starts with H
    assert np.allclose(b.p, [h, 1 - h]) and list(b.r) == [0, 1]
    # the two runs' parameters: the prior (EW mean 10, variance floor) and the prior updated by 10
    m0, b0 = b._prior()
    assert b.mu[0] == m0 == 10.0 and b.beta[0] == b0
    x = 11.0
    runs = [(b.mu[i], b.kappa[i], b.alpha[i], b.beta[i]) for i in range(2)]
    pred = [math.exp(_student_logpdf(x, *r)) for r in runs]
    joint = [h * pred[0], (1 - h) * pred[1]]
    want = [h * sum(joint), *((1 - h) * j for j in joint)]
    b.step(x)
    assert list(b.r) == [0, 1, 2]
    assert np.allclose(b.p, np.array(want) / sum(want), rtol=1e-9)


def test_the_judge_reads_a_spike_as_its_z_and_a_shift_as_a_change():
    rng = np.random.default_rng(3)
    x = rng.normal(50.0, 2.0, 3000)
    x[2000:] += 12.0  # a 6 σ level shift
    x[2600] += 20.0  # a 10 σ spike on the new level
    raw, short = bocpd_raw(x)
    assert np.all(raw[:150] == 0.0)  # reports after 150 values
    assert 0.5 < float(np.median(raw[200:2000])) < 0.9  # |z| of N(0, 1): median 0.67
    run = x[2000:2600]  # the spike's z against the run it interrupts, by hand
    assert abs(raw[2600] - (x[2600] - run.mean()) / run.std()) < 0.6
    assert raw[2000] > 5.0 and short[2001] > 0.9  # the shift: surprising once, then a new run
    assert float(np.median(raw[2100:2500])) < 0.9 and short[2500] < 0.1  # the new level learnt


def test_state_stays_bounded_on_a_real_series():
    sf = read_series(NAB / "realKnownCause" / "nyc_taxi.csv")
    values = np.array([v for v in sf.values if v is not None], float)
    b = Bocpd(max_runs=100)
    out = [b.step(v)[0] for v in values.tolist()]
    assert len(values) > 10_000 and len(b.p) == 100 and abs(float(b.p.sum()) - 1) < 1e-9
    assert all(math.isfinite(v) and v >= 0 for v in out) and max(out) > 3
