"""Spectral Residual saliency (Ren et al., KDD 2019, "Time-Series Anomaly Detection Service at
Microsoft"), streaming over the last ``window`` values — a measured option, not the default.

For a window ``x`` of values (oldest first):

1. ``m`` estimated points are appended (the paper's fix for the boundary, where the newest point
   sits): with ``y`` the values *before* the newest one, ``ḡ = (1/m) Σ_{i=1..m} (y_k − y_{k−i}) / i``
   is the mean slope from ``y``'s last value to each of the ``m`` before it, and every appended
   point is ``y_{k−m+1} + ḡ·m`` — the paper's formula applied to the values before the newest, as
   Microsoft's reference code does (with the newest included, a spike extrapolates itself and
   stops being salient);
2. ``F = FFT(x)``; ``L = log |F|``; ``AL`` = the trailing mean of ``L`` over ``q`` frequencies
   (the first ``q − 1`` over what is there); ``R = L − AL`` (the spectral residual);
3. the saliency map ``S = |IFFT(exp(R + i·phase(F)))|`` (frequencies with ``|F|`` ≤ 1e-8 —
   nothing there — contribute 0, and count as ``log 1 = 0`` in their neighbours' averages);
4. the newest real point's score ``O = (S_n − S̄) / S̄``, ``S̄`` the mean saliency of the ``z``
   points before it (0 when ``S̄`` is 0).

The paper's values: ``window`` 1,440, ``q`` 3, ``z`` 21, ``m`` 5 (and threshold ``τ`` 3 on ``O``,
which :class:`SpectralDetector` replaces by the series' own calibration, as every judge of the
``context`` detector is). A value is scored from a window that ends with it (it is judged against
the values before it; nothing after). Until ``window`` values are known the window is what there
is; no score before ``min_points`` values.

Cost: one FFT and one inverse FFT of ``window + m`` (1,445 = 5·17²) points per value: 3,060
values/s of CPU where the ``context`` detector did 64,300 in the same run (load 14) — 21× slower,
so SR could only join the default as a judge evaluated every k values (:func:`sr_scores`'s
``every``: the largest ``O`` of the last k values, one FFT per k). Memory: the ring of ``window``
floats.

Measured on NAB's 41 files with the paper's parameters (``python -m benchmarks.nab_levers``;
standard / low-FP / low-FN, all 41 | leave-one-group-out): alone 45.74 / 35.98 / 51.52 | 37.26 /
35.06 / 45.37 (the default ``context``: 72.33 / 63.40 / 77.67 | 71.22 / 62.30 / 76.55); as a fourth
judge of ``context`` (``− log10 4``) 70.90 / 60.54 / 76.72 | 69.80 / 59.00 / 75.60; judged every 16
values 72.16 / 63.04 / 77.56 | 71.05 / 62.58 / 76.44; every 64: no change. Not adopted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.anomaly.base import VALUE_LIMIT, WARMUP_SCORE, Score, after_refractory
from pipeline.anomaly.calibrate import TailCalibrator

WINDOW, Q_AMP, Z_LOCAL, M_EXT = 1440, 3, 21, 5
MIN_POINTS = 64
_EPS = 1e-8


def extend(x: np.ndarray, m: int = M_EXT) -> np.ndarray:
    """Rows of ``x`` (1-D: one window) with ``m`` estimated points appended (module docstring);
    a window of fewer than ``m + 2`` values is extended with its last value."""
    x2 = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x2.shape[1]
    if n <= m + 1:
        nxt = x2[:, -1]
    else:
        y = x2[:, :-1]  # the values before the newest
        steps = np.arange(1, m + 1)
        g = ((y[:, -1:] - y[:, -1 - steps]) / steps).mean(axis=1)
        nxt = y[:, n - 1 - m] + g * m
    out = np.concatenate([x2, np.repeat(nxt[:, None], m, axis=1)], axis=1)
    return out if np.ndim(x) == 2 else out[0]


def _trailing_mean(a: np.ndarray, q: int) -> np.ndarray:
    """Mean of ``a[..., j−q+1 .. j]`` along the last axis (fewer at the start)."""
    c = np.cumsum(a, axis=-1)
    out = c.copy()
    out[..., q:] = c[..., q:] - c[..., :-q]
    div = np.minimum(np.arange(1, a.shape[-1] + 1), q)
    return out / div


def saliency(x: np.ndarray, q: int = Q_AMP) -> np.ndarray:
    """The saliency map of ``x`` along its last axis (steps 2–3 of the module docstring)."""
    f = np.fft.fft(np.asarray(x, dtype=np.float64), axis=-1)
    amp = np.abs(f)
    empty = amp <= _EPS
    amp = np.where(empty, 1.0, amp)
    log_amp = np.log(amp)  # an empty frequency counts as log 1 = 0 in the averages
    resid = log_amp - _trailing_mean(log_amp, q)
    spec = np.where(empty, 0.0, f / amp * np.exp(resid))
    return np.abs(np.fft.ifft(spec, axis=-1))


def _last_score(sal: np.ndarray, n: int, z: int) -> np.ndarray:
    """``O`` of real point ``n − 1`` for each row of saliency maps ``sal``."""
    s_n = sal[..., n - 1]
    ref = sal[..., n - 1 - z:n - 1].mean(axis=-1)
    safe = np.where(ref > _EPS, ref, 1.0)
    return np.where(ref > _EPS, (s_n - ref) / safe, 0.0)


def window_score(x: Sequence[float] | np.ndarray, q: int = Q_AMP, z: int = Z_LOCAL,
                 m: int = M_EXT) -> float:
    """``O`` of the last value of window ``x`` (needs ``len(x) > z``)."""
    arr = np.asarray(x, dtype=np.float64)
    return float(_last_score(saliency(extend(arr, m), q), len(arr), z))


def block_score(sal: np.ndarray, n: int, z: int, k: int) -> np.ndarray:
    """The largest ``O`` among the last ``k`` real points (``n − k .. n − 1``) of each row of
    saliency maps ``sal`` — the judge evaluated once every ``k`` values."""
    best = _last_score(sal, n, z)
    for j in range(n - k + 1, n):
        if j - 1 - z >= 0:
            best = np.maximum(best, _last_score(sal, j, z))
    return best


def sr_scores(values: Sequence[float] | np.ndarray, window: int = WINDOW, q: int = Q_AMP,
              z: int = Z_LOCAL, m: int = M_EXT, min_points: int = MIN_POINTS,
              every: int = 1, chunk: int = 512) -> np.ndarray:
    """``O`` of every value of a series, each from the window that ends with it — exactly what
    :class:`SpectralResidual` gives value by value, computed in batches (for benchmarks); 0 for the
    first ``min_points − 1`` values. With ``every = k`` > 1 only every ``k``-th value is judged
    (:func:`block_score`; NaN elsewhere: no judgement)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    out = np.zeros(n) if every == 1 else np.full(n, np.nan)
    first = max(min_points, z + 1) - 1
    for i in range(first, min(n, window - 1)):  # growing window
        if (i + 1) % every == 0:
            w = x[:i + 1]
            out[i] = float(block_score(saliency(extend(w, m), q), len(w), z, min(every, len(w) - z)))
    if n >= window:
        ends = np.arange(window - 1, n)
        ends = ends[(ends + 1) % every == 0]
        for a in range(0, len(ends), chunk):
            idx = ends[a:a + chunk]
            block = x[idx[:, None] - np.arange(window - 1, -1, -1)]
            out[idx] = block_score(saliency(extend(block, m), q), window, z, every)
    return out


class SpectralResidual:
    """The SR score ``O`` of each new value from a ring of the last ``window`` values."""

    __slots__ = ("window", "q", "z", "m", "min_points", "buf", "n")

    def __init__(self, *, window: int = WINDOW, q: int = Q_AMP, z: int = Z_LOCAL, m: int = M_EXT,
                 min_points: int = MIN_POINTS) -> None:
        self.window, self.q, self.z, self.m = window, q, z, m
        self.min_points = max(min_points, z + 1)
        self.buf = [0.0] * window
        self.n = 0

    def _ordered(self, x: float | None) -> np.ndarray:
        ring = np.asarray(self.buf)
        if self.n < self.window:
            past = ring[:self.n]
        else:
            head = self.n % self.window  # the oldest value
            past = np.concatenate([ring[head:], ring[:head]])
        return past if x is None else np.append(past, x)

    def score(self, x: float) -> float:
        """``O`` of ``x`` against the values before it (does not change the state)."""
        if self.n + 1 < self.min_points:
            return 0.0
        w = self._ordered(x)
        if len(w) > self.window:
            w = w[1:]
        return window_score(w, self.q, self.z, self.m)

    def learn(self, x: float) -> None:
        """Push ``x`` into the ring."""
        self.buf[self.n % self.window] = x
        self.n += 1

    def state(self) -> dict[str, Any]:
        return {"window": self.window, "q": self.q, "z": self.z, "m": self.m,
                "min_points": self.min_points, "buf": list(self.buf), "n": self.n}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> SpectralResidual:
        d = cls.__new__(cls)
        d.window, d.q, d.z, d.m = s["window"], s["q"], s["z"], s["m"]
        d.min_points, d.buf, d.n = s["min_points"], list(s["buf"]), s["n"]
        return d


class SpectralDetector:
    """Streaming detector (``name = "spectral"``): SR's ``O`` calibrated per series.

    The positive part of ``O`` goes through a :class:`TailCalibrator` (half-life ``halflife``),
    the surprise ``S`` (``−log10`` of its tail share) becomes the score ``S / (S + scale)`` and an
    alert silences the next ``refractory`` points (half score), as in ``context``. No forecast:
    ``expected``/``lower``/``upper`` are None. Slow (module docstring): an option for comparison.
    """

    name = "spectral"
    __slots__ = ("sr", "calib", "scale", "alert", "refractory", "since_alert")

    def __init__(self, *, window: int = WINDOW, q: int = Q_AMP, z: int = Z_LOCAL, m: int = M_EXT,
                 halflife: float = 1000.0, scale: float = 3.0, alert: float = 0.5,
                 refractory: int = 36) -> None:
        self.sr = SpectralResidual(window=int(window), q=int(q), z=int(z), m=int(m))
        self.calib = TailCalibrator(1, halflife)
        self.scale, self.alert, self.refractory = scale, alert, int(refractory)
        self.since_alert = 1 << 30

    def _full(self, x: float, learn: bool) -> float:
        o = self.sr.score(x)
        raw = o if o > 0 else 0.0
        if learn:
            s = self.calib.surprise_learn1(raw)
            self.sr.learn(x)
        else:
            s = self.calib.surprise1(raw)[0]
        return s / (s + self.scale) if s > 0 else 0.0

    def score_one(self, t: float, x: float | None) -> Score:
        """Judge ``x`` from earlier values only (does not change the state)."""
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return WARMUP_SCORE
        full = self._full(x, False)
        return Score(full * 0.5 if self.since_alert < self.refractory else full, None, None, None,
                     self.sr.n + 1 >= self.sr.min_points)

    def learn_one(self, t: float, x: float | None) -> None:
        """Fold ``x`` into the ring and the calibration."""
        self.step(t, x)

    def step(self, t: float, x: float | None) -> Score:
        """Score then learn one value."""
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return WARMUP_SCORE
        warm = self.sr.n + 1 >= self.sr.min_points
        full = self._full(x, True)
        score, self.since_alert = after_refractory(full, self.since_alert, self.refractory, self.alert)
        return Score(score, None, None, None, warm)

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (the ring, the calibration, the silence counter)."""
        return {"sr": self.sr.state(), "calib": self.calib.state(), "scale": self.scale,
                "alert": self.alert, "refractory": self.refractory, "since_alert": self.since_alert}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> SpectralDetector:
        """Inverse of :meth:`state`."""
        d = cls.__new__(cls)
        d.sr = SpectralResidual.from_state(s["sr"])
        d.calib = TailCalibrator.from_state(s["calib"])
        d.scale, d.alert, d.refractory = s["scale"], s["alert"], s["refractory"]
        d.since_alert = s["since_alert"]
        return d
