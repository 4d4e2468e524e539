"""The default metric detector: several views of the series, calibrated per series.

Views (each a z-like "how unusual" number, computed before the point is learnt):

* **spike** — |x − forecast| / σ, the one-step residual of :class:`SeasonalModel`;
* **shift** — the exponentially weighted mean of recent residuals against its own standard error,
  which crosses earlier than any single residual when the level moves;
* **drift** — the distance of a short average from the slow (seasonally adjusted) level, in units
  of the slow level's typical spread, for changes too gradual for the one-step forecaster;
* **variance** — the ratio of recent to long-run squared residuals, for a series that becomes
  erratic without moving its mean.

Raw views are not comparable across series (CPU is spiky, latency is smooth), so each series
keeps a running mean and spread of its own combined surprise (learnt on unflagged points only)
and reports how far the current surprise stands above it — the "anomaly likelihood" idea of
Numenta's HTM detector, in closed form. The score is mapped into [0, 1] with 0.5 at
``surprise == scale``.

Flagged points (score ≥ ``flag``) are not learnt; after ``relevel_after`` consecutive flagged
points the model accepts the new level (a level shift becomes the new normal). Once an episode
has been reported, further points of the same episode (within ``refractory`` points) are
reported at a reduced score, so one incident yields one alert rather than a burst.
State is a fixed number of floats per series.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.anomaly.base import WARMUP_SCORE, Score
from pipeline.anomaly.model import SeasonalModel


class MultiViewDetector:
    """Default streaming detector (``name = "multiview"``); see the module docstring."""

    name = "multiview"
    __slots__ = ("k", "flag", "scale", "relevel_after", "refractory", "model", "m_short",
                 "v_short", "v_long", "s_mean", "s_var", "s_n", "flagged_run", "since_alert",
                 "drift_mean", "drift_dev", "warm_n")

    def __init__(self, *, k: float = 2.0, flag: float = 0.5, scale: float = 4.0,
                 relevel_after: int = 12, refractory: int = 24, warmup: int = 30) -> None:
        self.k, self.flag, self.scale = k, flag, scale
        self.relevel_after, self.refractory = relevel_after, refractory
        self.model = SeasonalModel(warmup=warmup)
        self.m_short = 0.0      # EW mean of residuals (α = 0.3)
        self.v_short = 0.0      # EW mean of squared standardised residuals (α = 0.1)
        self.v_long = 1.0
        self.drift_mean = math.nan  # short average of values (α = 0.2)
        self.drift_dev = 0.0    # EW mean |x - slow level|
        self.s_mean = 0.0       # running mean / variance of the combined surprise
        self.s_var = 1.0
        self.s_n = 0
        self.flagged_run = 0
        self.since_alert = 1 << 30
        self.warm_n = warmup

    def _surprise(self, t: float, x: float) -> tuple[float, float, float] | None:
        b = self.model.best(t)
        if b is None:
            return None
        p, sigma = b
        r = x - p
        z = abs(r) / sigma
        m = self.m_short + 0.3 * (r - self.m_short)
        z_shift = abs(m) / (sigma * 0.42)  # sd of an α=0.3 EW mean of iid residuals
        v = self.v_short + 0.1 * (min(z * z, 100.0) - self.v_short)
        z_var = max(0.0, v / max(self.v_long, 1e-6) - 1.0)
        raw = z if z > z_shift else z_shift
        if z_var > raw:
            raw = z_var
        if not math.isnan(self.drift_mean) and self.drift_dev > 0:
            dm = self.drift_mean + 0.2 * (x - self.drift_mean)
            zd = abs(dm - self.model.slow) / (3.0 * self.drift_dev)
            if zd > raw:
                raw = zd
        return raw, p, sigma

    def score_one(self, t: float, x: float | None) -> Score:
        return self._judge(t, x)[0]

    def _judge(self, t: float, x: float | None) -> tuple[Score, tuple[float, float, float] | None,
                                                          float]:
        if x is None or x != x:
            return WARMUP_SCORE, None, 0.0
        s = self._surprise(t, x)
        if s is None:
            return WARMUP_SCORE, None, 0.0
        raw, p, sigma = s
        full = self._calibrate(raw)
        score = full * 0.5 if self.since_alert < self.refractory else full
        lo = p - self.k * sigma
        if self.model.nonneg and lo < 0:
            lo = 0.0
        return Score(score, p, lo, p + self.k * sigma, True), s, full

    def _calibrate(self, raw: float) -> float:
        if self.s_n < 10:
            return 0.0
        sd = math.sqrt(self.s_var) if self.s_var > 0.01 else 0.1
        u = (raw - self.s_mean) / sd
        if u <= 0:
            return 0.0
        q = u / self.scale
        return 1.0 - math.exp(-0.6931471805599453 * q * q)

    def learn_one(self, t: float, x: float | None) -> None:
        _, s, full = self._judge(t, x)
        self._learn(t, x, s, full)

    def step(self, t: float, x: float | None) -> Score:
        sc, s, full = self._judge(t, x)
        self._learn(t, x, s, full)
        return sc

    def _learn(self, t: float, x: float | None, s: tuple[float, float, float] | None,
               score: float) -> None:
        if x is None or x != x:
            return
        model = self.model
        self._learn_views(t, x, s)
        if s is None:
            model.learn(t, x)
            return
        if score >= self.flag:
            self.since_alert = 0 if self.since_alert >= self.refractory else self.since_alert + 1
            self.flagged_run += 1
            if self.flagged_run >= self.relevel_after:
                model.relevel(x)
                self.m_short = 0.0
                self.flagged_run = 0
            return
        self.since_alert += 1
        self.flagged_run = 0
        raw = s[0]
        a = 0.002 if self.s_n > 500 else 1.0 / (self.s_n + 1)
        d = raw - self.s_mean
        self.s_mean += a * d
        self.s_var += a * (d * d - self.s_var)
        self.s_n += 1
        model.learn(t, x)

    def _learn_views(self, t: float, x: float, s: tuple[float, float, float] | None) -> None:
        self.drift_mean = x if math.isnan(self.drift_mean) else (
            self.drift_mean + 0.2 * (x - self.drift_mean))
        self.drift_dev += 0.01 * (abs(x - self.model.slow) - self.drift_dev)
        if s is None:
            return
        _, p, sigma = s
        r = x - p
        self.m_short += 0.3 * (r - self.m_short)
        zz = min((r / sigma) ** 2, 100.0)
        self.v_short += 0.1 * (zz - self.v_short)
        self.v_long += 0.005 * (min(zz, 16.0) - self.v_long)

    def state(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__ if k != "model"}
        out["model"] = self.model.state()
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MultiViewDetector:
        d = cls.__new__(cls)
        for k in cls.__slots__:
            if k != "model":
                setattr(d, k, state[k])
        d.model = SeasonalModel.from_state(state["model"])
        return d
