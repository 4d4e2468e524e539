"""Spectral Residual (pipeline/anomaly/spectral.py): hand-worked saliency maps, the boundary
extension, streaming ≡ batch, and the detector's contract."""

from __future__ import annotations

import cmath
import json
import math
import random

import numpy as np
import pytest

from pipeline.anomaly import make_detector
from pipeline.anomaly.spectral import (
    SpectralDetector,
    SpectralResidual,
    extend,
    saliency,
    sr_scores,
    window_score,
)


def _dft_saliency(x: list[float], q: int = 3) -> list[float]:
    """The saliency map by the definition, with an O(n²) DFT written out (a second engine)."""
    n = len(x)
    f = [sum(x[t] * cmath.exp(-2j * math.pi * k * t / n) for t in range(n)) for k in range(n)]
    amp = [abs(v) for v in f]
    logs = [math.log(a) if a > 1e-8 else 0.0 for a in amp]
    avg = [sum(logs[max(0, k - q + 1):k + 1]) / min(k + 1, q) for k in range(n)]
    spec = [0j if amp[k] <= 1e-8 else f[k] / amp[k] * math.exp(logs[k] - avg[k]) for k in range(n)]
    return [abs(sum(spec[k] * cmath.exp(2j * math.pi * k * t / n) for k in range(n)) / n)
            for t in range(n)]


def test_saliency_of_an_impulse_and_of_a_constant_by_hand() -> None:
    # impulse: |F| = 1 everywhere, so the residual is 0 and the map is the impulse itself
    assert np.allclose(saliency(np.array([1.0, 0, 0, 0])), [1, 0, 0, 0])
    assert np.allclose(saliency(np.array([5.0, 0, 0, 0])), [1, 0, 0, 0])  # amplitude drops out
    # constant: only the mean frequency holds energy; its residual is 0 → a flat map of 1/n
    assert np.allclose(saliency(np.array([3.0, 3, 3, 3])), [0.25] * 4)


def test_saliency_of_a_step_by_hand() -> None:
    # x = [1, 1, 0, 0]: F = [2, 1−i, 0, 1+i]; log|F| = [ln2, ½ln2, (empty → 0), ½ln2];
    # trailing means (q = 3): [ln2, ¾ln2, ·, ⅓ln2]; residuals R = [0, −¼ln2, ·, ⅙ln2]
    spec = [1.0, (1 - 1j) / math.sqrt(2) * 2 ** -0.25, 0.0, (1 + 1j) / math.sqrt(2) * 2 ** (1 / 6)]
    by_hand = [abs(sum(spec[k] * cmath.exp(2j * math.pi * k * t / 4) for k in range(4)) / 4)
               for t in range(4)]
    assert np.allclose(saliency(np.array([1.0, 1, 0, 0])), by_hand)
    rng = random.Random(3)
    x = [rng.gauss(0, 1) for _ in range(37)]
    assert np.allclose(saliency(np.array(x)), _dft_saliency(x))


def test_extension_continues_the_mean_slope_of_the_values_before_the_newest() -> None:
    # a line 0..6: the values before the newest are 0..5, every slope to 5 is 1, so each appended
    # point is y_{k−m+1} + 1·5 = 1 + 5 = 6
    assert extend(np.arange(7.0)).tolist() == [0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6]
    # before the newest (9): [7, 5, 1, 2, 4, 3]; slopes from 3 to 4, 2, 1, 5, 7 (1..5 steps back):
    # −1, 0.5, 0.6667, −0.5, −0.8 → ḡ = −0.22667; appended 5 + ḡ·5 = 3.8667 (the spike is ignored)
    x = np.array([7.0, 5, 1, 2, 4, 3, 9])
    assert np.allclose(extend(x)[7:], [5 + 5 * (-1 + 0.5 + 2 / 3 - 0.5 - 0.8) / 5] * 5)
    assert np.allclose(extend(np.array([[1.0, 2, 3], [4, 5, 6]]))[:, 3:], [[3] * 5, [6] * 5])


def test_a_spike_stands_out_and_noise_does_not() -> None:
    rng = random.Random(1)
    x = [10 + math.sin(i / 8) + rng.gauss(0, 0.1) for i in range(300)]
    calm = sr_scores(x)  # every value, each from the window ending with it
    assert np.median(calm[64:]) < 1.0 and max(calm) < 5.0
    # a jump of 10 (100 σ of the noise) scores far above anything the calm series did, and a
    # bigger jump more
    assert window_score([*x, 20.0]) > window_score([*x, 12.0]) > 2 * max(calm)


def test_streaming_equals_batch_and_state_round_trips() -> None:
    rng = random.Random(7)
    vals = [rng.gauss(0, 1) + (8.0 if i % 97 == 0 else 0.0) for i in range(260)]
    sr = SpectralResidual(window=120)
    stream = []
    for v in vals:
        stream.append(sr.score(v))
        sr.learn(v)
        if len(stream) == 150:
            sr = SpectralResidual.from_state(json.loads(json.dumps(sr.state())))
    batch = sr_scores(vals, window=120)
    assert np.allclose(stream, batch)
    assert all(v == 0.0 for v in stream[:63]) and stream[63] != 0.0  # from the 64th value on
    assert len(sr.state()["buf"]) == 120  # the ring, never more


def test_detector_contract() -> None:
    det = make_detector("spectral")
    assert isinstance(det, SpectralDetector) and det.name == "spectral"
    rng = random.Random(2)
    vals = [50 + 5 * math.sin(i / 20) + rng.gauss(0, 0.5) for i in range(1500)]
    vals[1300] = 90.0
    twin = SpectralDetector()
    scores = []
    for i, v in enumerate(vals):
        before = json.dumps(det.state())
        s1 = det.score_one(60.0 * i, v)
        assert json.dumps(det.state()) == before
        scores.append(twin.step(60.0 * i, v).score)
        det.learn_one(60.0 * i, v)
        assert s1.score == scores[-1]
    alerts = [i for i, s in enumerate(scores) if s >= 0.5]
    assert 1300 in alerts and len(alerts) <= 3
    assert det.step(0.0, None).score == 0.0 and det.step(0.0, math.nan).score == 0.0
    copy = SpectralDetector.from_state(json.loads(json.dumps(det.state())))
    assert [copy.step(1e6 + i, v) for i, v in enumerate(vals[:50])] == \
        [det.step(1e6 + i, v) for i, v in enumerate(vals[:50])]


@pytest.mark.parametrize("n", [1, 5, 22])
def test_short_windows_do_not_crash(n: int) -> None:
    assert sr_scores([1.0] * n).tolist() == [0.0] * n
