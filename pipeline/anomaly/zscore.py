"""Baseline detector: rolling z-score over the last ``window`` points (NAB's "windowed Gaussian").

Kept as the reference point the default detector must beat; state is a ring buffer of
``window`` floats plus running sums, so memory per series is constant.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from pipeline.anomaly.base import VALUE_LIMIT, WARMUP_SCORE, Score


class ZScoreDetector:
    """Score = 1 − two-sided Gaussian tail of |x − mean| / sd over the trailing window."""

    name = "zscore"

    def __init__(self, *, window: int = 288, k: float = 2.0, warmup: int = 30) -> None:
        self.window, self.k, self.warmup = window, k, warmup
        self.buf: deque[float] = deque()
        self.total = 0.0
        self.total2 = 0.0

    def score_one(self, t: float, x: float | None) -> Score:
        n = len(self.buf)
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT or n < self.warmup:
            return WARMUP_SCORE
        mean = self.total / n
        sd = math.sqrt(max(self.total2 / n - mean * mean, 0.0)) or 1e-9
        z = abs(x - mean) / sd
        return Score(1.0 - math.erfc(z / math.sqrt(2)), mean, mean - self.k * sd,
                     mean + self.k * sd, True)

    def learn_one(self, t: float, x: float | None) -> None:
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return
        self.buf.append(x)
        self.total += x
        self.total2 += x * x
        if len(self.buf) > self.window:
            old = self.buf.popleft()
            self.total -= old
            self.total2 -= old * old

    def step(self, t: float, x: float | None) -> Score:
        sc = self.score_one(t, x)
        self.learn_one(t, x)
        return sc

    def state(self) -> dict[str, Any]:
        return {"window": self.window, "k": self.k, "warmup": self.warmup, "buf": list(self.buf)}
