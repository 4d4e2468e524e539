"""The ``multiview`` metric detector: several views of the series, calibrated per series (the
``context`` default judges three of them).

Views (each a z-like "how unusual" number, computed before the point is learnt):

* **spike** — |x − forecast| / σ, the one-step residual of :class:`SeasonalModel`;
* **shift** — the exponentially weighted mean of recent residuals against its own standard error,
  which crosses earlier than any single residual when the level moves;
* **drift** — the distance of a short average from the slow (seasonally adjusted) level, in units
  of the slow level's typical spread, for changes too gradual for the one-step forecaster;
* **robust shift** — the median of the last 7 standardised residuals: insensitive to isolated
  spikes (so a spiky series does not hide a level change behind its spikes), it moves as soon
  as half the recent points sit at a new level;
* **range novelty** — how far the value lies outside the series' own recent range of normal
  values (a maximum and minimum that fade towards the slow level over ~1,000 points), in units
  of the slow level's spread: "higher than anything seen for days" (Skyline's and relative
  entropy's value-distribution idea), which catches ramps and shifts the forecaster follows.

With ``slow_views=False`` only spike, robust shift and range novelty are judged (the shift and
drift histograms stay empty; the ``context`` detector's default). All views are signed and keep
separate histograms for up and down moves:
many metrics spike one way only (CPU bursts), and a drop on such a series is still news.

Raw views are not comparable across series (CPU is spiky, latency is smooth), so each view is
calibrated against its own history (:class:`TailCalibrator`, half-life ``halflife`` points: 3,000
here, 1,000 inside ``context``): the surprise is ``−log10`` of the share of past points that were
at least as unusual. The score is ``S / (S + scale)`` for surprise
``S`` (0.5 at one-in-``10^scale`` rarity), in [0, 1).

Flagged points (score ≥ ``flag``) are not learnt by the forecaster; after ``relevel_after``
consecutive flagged points it accepts the new level (a level shift becomes the new normal). Once
an episode has been reported, points within ``refractory`` points of the alert are reported at half
their score, so one incident yields one alert rather than a burst. State is a fixed number of
floats per series (about 1,100).

Speed: what the ``context`` detector asks of it — :meth:`~MultiViewDetector.judge` (surprise then
absorb), :meth:`~MultiViewDetector.peek` and :meth:`~MultiViewDetector.forecast`, with the
forecaster and the calibrator — runs compiled as :func:`mv_core` (:mod:`pipeline.anomaly._mv`, the
same numbers and state bit for bit, tests/pipeline/anomaly/test_mv_native.py): ~15× the Python's
points per second. :class:`MultiViewDetector` stays the reference.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.anomaly.base import VALUE_LIMIT, WARMUP_SCORE, Score, make_score, restore_slots, slots_state
from pipeline.anomaly.calibrate import TailCalibrator
from pipeline.anomaly.model import SeasonalModel
from pipeline.native import use_native

try:  # the compiled surprise and learning (pipeline/anomaly/_mv.c): the same numbers
    from pipeline.anomaly import _mv  # type: ignore[attr-defined]
except ImportError:  # not built: the Python detector
    _mv = None

MEDIAN_OF = 7
# (views, raw values, bins, forecast, sigma, new EW mean of residuals, new short average)
_Judged = tuple[list[int], list[float], list[int], float, float, float, float]


class MultiViewDetector:
    """Streaming detector (``name = "multiview"``); see the module docstring."""

    name = "multiview"
    __slots__ = ("k", "flag", "scale", "relevel_after", "refractory", "model", "calib",
                 "m_short", "drift_mean", "drift_dev", "flagged_run",
                 "since_alert", "warm_n", "recent", "hi", "lo", "slow_views")

    def __init__(self, *, k: float = 2.0, flag: float = 0.5, scale: float = 3.0,
                 relevel_after: int = 12, refractory: int = 36, warmup: int = 30,
                 halflife: float = 3000.0, slow_views: bool = True, bin0: bool = False) -> None:
        self.k, self.flag, self.scale = k, flag, scale
        self.slow_views = bool(slow_views)  # False: judge spike, robust shift and range novelty only
        self.relevel_after, self.refractory = relevel_after, refractory
        self.model = SeasonalModel(warmup=warmup)
        self.calib = TailCalibrator(10, halflife, bin0=bin0)  # five views × (up, down)
        self.hi = self.lo = math.nan  # decaying range of normal values
        self.recent = [0.0] * MEDIAN_OF  # last standardised residuals (ring buffer)
        self.m_short = 0.0      # EW mean of residuals (α = 0.3)
        self.drift_mean = math.nan  # short average of values (α = 0.2)
        self.drift_dev = 0.0    # EW mean |x − slow level|
        self.flagged_run = 0
        self.since_alert = 1 << 30
        self.warm_n = warmup

    def _views(self, t: float, x: float) -> _Judged | None:
        model = self.model
        b = model.best(t)
        if b is None:
            return None
        p, sigma = b
        r = x - p
        z = abs(r) / sigma
        m = self.m_short + 0.3 * (r - self.m_short)
        z_shift = abs(m) / (sigma * 0.42)  # sd of an α=0.3 EW mean of iid residuals
        dm = self.drift_mean + 0.2 * (x - self.drift_mean)
        d = dm - model.slow
        z_drift = abs(d) / self.drift_dev if self.drift_dev > 0 else 0.0
        rec = self.recent
        med = sorted([*rec[1:], r / sigma])[3]
        dd = self.drift_dev if self.drift_dev > 0 else sigma
        if x > self.hi:
            rv, rng = (x - self.hi) / dd, 8
        elif x < self.lo:
            rv, rng = (self.lo - x) / dd, 9
        else:
            rv, rng = 0.0, 8
        if not self.slow_views:
            return [0 if r >= 0 else 1, 6 if med >= 0 else 7, rng], [z, abs(med), rv], [], p, sigma, m, dm
        return ([0 if r >= 0 else 1, 2 if m >= 0 else 3, 4 if d >= 0 else 5,
                 6 if med >= 0 else 7, rng], [z, z_shift, z_drift, abs(med), rv], [], p, sigma, m, dm)

    def _judge(self, t: float, x: float | None) -> tuple[Score, _Judged | None, float]:
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return WARMUP_SCORE, None, 0.0
        j = self._views(t, x)
        if j is None:
            return WARMUP_SCORE, None, 0.0
        views, raws, bins, p, sigma = j[:5]
        s = self.calib.surprise(views, raws, bins) - 0.7  # − log10(5): five views are looked at
        full = s / (s + self.scale) if s > 0 else 0.0
        score = full * 0.5 if self.since_alert < self.refractory else full
        lo = p - self.k * sigma
        if self.model.nonneg and lo < 0:
            lo = 0.0
        return Score(score, p, lo, p + self.k * sigma, True), j, full

    def surprise(self, t: float, x: float) -> tuple[float, _Judged | None]:
        """``(S, judged)``: the calibrated surprise of present value ``x`` (``−log10`` of the
        tail share of its most unusual view, less ``log10 5``; 0 in warm-up) and the views to hand
        back to :meth:`absorb`. Does not change the state. For detectors built on this one."""
        j = self._views(t, x)
        if j is None:
            return 0.0, None
        return self.calib.surprise(j[0], j[1], j[2]) - 0.7, j

    def absorb(self, t: float, x: float, judged: _Judged | None, surprise: float) -> None:
        """Learn ``x`` after :meth:`surprise` returned ``(surprise, judged)`` for it — exactly what
        :meth:`step` learns."""
        self._learn(t, x, judged, surprise / (surprise + self.scale) if surprise > 0 else 0.0)

    def judge(self, t: float, x: float) -> tuple[float, float, float] | None:
        """:meth:`surprise` then :meth:`absorb` of present value ``x``: ``(S, expected, sigma)``,
        or None in the forecaster's warm-up (``x`` is learnt either way). The compiled core's
        ``judge`` (:func:`mv_core`) gives the same, bit for bit."""
        s, j = self.surprise(t, x)
        self.absorb(t, x, j, s)
        return None if j is None else (s, j[3], j[4])

    def peek(self, t: float, x: float) -> tuple[float, float, float] | None:
        """:meth:`judge` without learning ``x``."""
        s, j = self.surprise(t, x)
        return None if j is None else (s, j[3], j[4])

    def forecast(self, t: float) -> tuple[float, float] | None:
        """``(expected, sigma)`` at ``t`` (the forecaster's :meth:`~SeasonalModel.best`), None in
        its warm-up; nothing is learnt."""
        return self.model.best(t)

    @property
    def nonneg(self) -> bool:
        """No negative value seen yet (the band's lower edge is then floored at 0)."""
        return self.model.nonneg

    def score_one(self, t: float, x: float | None) -> Score:
        """Judge ``x`` at ``t`` from earlier points only (does not change the state)."""
        return self._judge(t, x)[0]

    def learn_one(self, t: float, x: float | None) -> None:
        """Learn ``x`` (skipped by the forecaster if the detector flags it)."""
        _, j, full = self._judge(t, x)
        self._learn(t, x, j, full)

    def step(self, t: float, x: float | None) -> Score:
        """Score then learn one point (one model evaluation)."""
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return WARMUP_SCORE
        j = self._views(t, x)
        if j is None:
            self._learn(t, x, None, 0.0)
            return WARMUP_SCORE
        views, raws, bins, p, sigma = j[:5]
        s = self.calib.surprise(views, raws, bins) - 0.7  # − log10(5): five views
        full = s / (s + self.scale) if s > 0 else 0.0
        score = full * 0.5 if self.since_alert < self.refractory else full
        self._learn(t, x, j, full)
        lo = p - self.k * sigma
        if lo < 0 and self.model.nonneg:
            lo = 0.0
        return make_score(score, p, lo, p + self.k * sigma)

    def _learn(self, t: float, x: float | None, j: _Judged | None, score: float) -> None:
        if x is None or x - x != 0.0:  # NaN, ±inf (the callers range-check: this mirrors the core)
            return
        model = self.model
        if j is not None:  # the short average and EW mean of residuals _views already computed
            self.drift_mean = j[6]
        else:
            self.drift_mean = x if self.drift_mean != self.drift_mean else (
                self.drift_mean + 0.2 * (x - self.drift_mean))
        dev = x - model.slow
        self.drift_dev += 0.01 * ((dev if dev >= 0 else -dev) - self.drift_dev)
        if j is None:
            model.learn(t, x)
            if not (self.hi >= x):  # NaN at the start
                self.hi = x
            if not (self.lo <= x):
                self.lo = x
            return
        views, raws, bins, p, sigma, self.m_short, _ = j
        self.calib.learn(views, raws, bins)
        rec = self.recent
        rec.pop(0)
        rec.append((x - p) / sigma)
        if score >= self.flag:
            self.since_alert = 0 if self.since_alert >= self.refractory else self.since_alert + 1
            self.flagged_run += 1
            if self.flagged_run >= self.relevel_after:
                model.relevel(x)
                self.m_short = 0.0
                self.recent = [0.0] * MEDIAN_OF
                self.flagged_run = 0
                self.hi, self.lo = max(self.hi, x), min(self.lo, x)
            return
        self.since_alert += 1
        self.flagged_run = 0
        slow = model.slow
        self.hi = x if x > self.hi else self.hi - 0.001 * (self.hi - slow)
        self.lo = x if x < self.lo else self.lo - 0.001 * (self.lo - slow)
        model.learn(t, x)

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of the whole state (fixed size)."""
        out = slots_state(self, ("model", "calib"))
        out["model"] = self.model.state()
        out["calib"] = self.calib.state()
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MultiViewDetector:
        """Inverse of :meth:`state`."""
        # states saved before ``slow_views`` existed judged all five views
        d: MultiViewDetector = restore_slots(cls, state, ("model", "calib"), {"slow_views": True})
        d.model = SeasonalModel.from_state(state["model"])
        d.calib = TailCalibrator.from_state(state["calib"])
        return d


def mv_core(det: MultiViewDetector) -> Any:
    """``det`` as the compiled core when it is in use, else None. The core (``_mv.MvCore``) starts
    from ``det.state()`` and carries on alone, answering as ``det`` would: ``judge(t, x)``,
    ``peek(t, x)``, ``forecast(t)``, ``state()`` (``det.state()``'s dict); ``k``, ``scale`` and
    ``nonneg`` are read-only; it pickles."""
    return _mv.MvCore(det.state()) if use_native(_mv) else None


def restore_mv(state: dict[str, Any]) -> Any:
    """From :meth:`MultiViewDetector.state` or the core's (the same dict): the compiled core when
    :func:`mv_core` would give one, else the :class:`MultiViewDetector`."""
    return _mv.MvCore(state) if use_native(_mv) else MultiViewDetector.from_state(state)
