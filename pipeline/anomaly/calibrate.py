"""Per-series tail calibration: how rare is this much surprise *for this series*?

Each view's raw value (a non-negative z-like number) goes into a decaying log-scale histogram
(64 bins, ``bin = ⌊4·log2(1 + raw)⌋``). The tail probability of a new value is the decayed share
of past values in its bin or above (with half a point of prior, so it is never 0); above the
largest value seen (once 100 points are known) it is extrapolated with a Pareto tail ``∝ (max / raw)⁴``. The surprise is
``−log10(p)``. A series with recurring big spikes thus learns that its spikes are ordinary, while a
smooth series is surprised by a moderate jump. Memory: ``views × 64`` floats; decay half-life
``halflife`` points (old history fades, so the calibration follows regime changes).
"""

from __future__ import annotations

import math
from typing import Any

BINS = 64
TAIL_EXP = 4.0
MIN_EXTRAPOLATE = 100  # points of history before the tail is extrapolated past the maximum
_LOG10 = math.log(10.0)


class TailCalibrator:
    """Decaying histograms of ``n_views`` raw views; see the module docstring."""

    __slots__ = ("n_views", "growth", "w", "hist", "total", "vmax", "n")

    def __init__(self, n_views: int, halflife: float = 3000.0) -> None:
        self.n_views = n_views
        self.growth = 2.0 ** (1.0 / halflife)  # new points weigh more instead of decaying all
        self.w = 1.0
        self.hist = [[0.0] * BINS for _ in range(n_views)]
        self.total = 0.0
        self.vmax = [0.0] * n_views
        self.n = 0

    def surprise(self, views: list[int], raws: list[float]) -> float:
        """Largest surprise ``−log10(p_tail)`` of ``raws[i]`` against histogram ``views[i]``."""
        total, half = self.total, 0.5 * self.w
        best = 0.0
        for v, raw in zip(views, raws):
            b = int(4.0 * math.log2(1.0 + raw)) if raw > 0 else 0
            if b >= BINS:
                b = BINS - 1
            p = (sum(self.hist[v][b:]) + half) / (total + self.w)
            m = self.vmax[v]
            if raw > m > 0 and self.n >= MIN_EXTRAPOLATE:
                p *= (m / raw) ** TAIL_EXP
            s = -math.log(p) / _LOG10 if p > 0 else 300.0
            if s > best:
                best = s
        return best

    def learn(self, views: list[int], raws: list[float]) -> None:
        """Add ``raws[i]`` to histogram ``views[i]`` (weight grows so older points fade)."""
        w = self.w * self.growth
        if w > 1e100:
            for h in self.hist:
                for i in range(BINS):
                    h[i] /= w
            self.total /= w
            w = 1.0
        self.w = w
        self.n += 1
        self.total += w
        for v, raw in zip(views, raws):
            b = int(4.0 * math.log2(1.0 + raw)) if raw > 0 else 0
            self.hist[v][b if b < BINS else BINS - 1] += w
            if raw > self.vmax[v]:
                self.vmax[v] = raw
            else:
                self.vmax[v] *= 0.99995

    def state(self) -> dict[str, Any]:
        return {"n": self.n, "n_views": self.n_views, "growth": self.growth, "w": self.w,
                "hist": [list(h) for h in self.hist], "total": self.total,
                "vmax": list(self.vmax)}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> TailCalibrator:
        c = cls.__new__(cls)
        c.n_views, c.growth, c.w, c.total = s["n_views"], s["growth"], s["w"], s["total"]
        c.hist = [list(h) for h in s["hist"]]
        c.n = s["n"]
        c.vmax = list(s["vmax"])
        return c
