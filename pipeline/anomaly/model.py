"""The forecasting model behind the default detector and the expected band.

Three one-step-ahead forecasters share one bounded state (about 200 floats per series):

* ``level``  — an exponentially weighted mean of recent values (no seasonality);
* ``daily``  — a slow level plus an hour-of-day profile (24 bins, Holt-Winters style);
* ``weekly`` — the same slow level plus an hour-of-week profile (168 bins).

Each forecaster's mean absolute one-step error is tracked (exponentially weighted), and the
forecast in use is the one with the smallest error among those with enough history (daily after
two days, weekly after two weeks), with a 10 % hysteresis in favour of the simpler one — so a
seasonal profile is used only where it actually predicts better. σ (the band's unit) is
``1.2533 ×`` that error (the mean absolute deviation of a normal residual), floored at half the
series' observed resolution so quantised or constant series do not get a zero-width band, and at
10⁻⁹ of the forecast (never below :data:`SIGMA_MIN`) — relative, so a series in nano-units is judged
as the same series in units (until the twenty-third session the floor was ``10⁻⁹ · (|forecast| + 1)``,
absolute below 1, and values ~10⁻¹² lost a third of their alerts; on NAB, the synthetic sets, normal
traffic and the quiet shapes every score is the same bit for bit). A series that has never been
below 0 is never expected below 0: the profiles can pull a forecast of a series that sits at 0
between bursts negative, which read an ordinary 0 as a rise and drew the band around a negative
count (``benchmarks/nab_clampbag.py``; adopted in the twenty-fourth session).
Profiles learn at a rate derived from the observed sampling interval, so 1-minute and 5-minute
series keep the same memory in days.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.anomaly.base import restore_slots, slots_state

_SQRT_PI_2 = math.sqrt(math.pi / 2)  # E|N(0,1)|⁻¹: σ = 1.2533 · mean |residual|
#: σ's last floor, for a forecast of 0: |x − forecast| / σ stays finite for any value CloudWatch
#: holds (±2^360 ≈ 10^108.4, so at most ~10^259).
SIGMA_MIN = 1e-150
_DAY = 86400.0
_WEEK = 7 * _DAY


class SeasonalModel:
    """Bounded-state forecaster (see module docstring). Not thread-safe; one per series."""

    __slots__ = ("alpha_fast", "alpha_slow", "alpha_err", "warmup", "n", "t0", "tl", "dt",
                 "fast", "slow", "daily", "daily_n", "weekly", "weekly_n", "err", "err_n",
                 "resolution", "prev", "nonneg", "_cache")
    #: A series never below 0 is never expected below 0 (module docstring); the families declared
    #: before the twenty-fourth session score the forecaster of their day with it False.
    floor0 = True

    def __init__(self, *, alpha_fast: float = 0.1, alpha_slow: float = 0.01,
                 alpha_err: float = 0.01, warmup: int = 30) -> None:
        self.alpha_fast, self.alpha_slow, self.alpha_err = alpha_fast, alpha_slow, alpha_err
        self.warmup = warmup
        self.n = 0
        self.t0 = self.tl = 0.0
        self.dt = 0.0
        self.fast = self.slow = 0.0
        self.daily = [0.0] * 24
        self.daily_n = [0] * 24
        self.weekly = [0.0] * 168
        self.weekly_n = [0] * 168
        self.err = [0.0, 0.0, 0.0]
        self.err_n = [0, 0, 0]
        self.resolution = math.inf
        self.prev = math.nan
        self.nonneg = True
        self._cache: tuple[float, tuple[float, float | None, float | None, int, int]] | None = None

    # -- forecasting -------------------------------------------------------------------
    def _forecasts(self, t: float) -> tuple[float, float | None, float | None, int, int]:
        h = int(t // 3600)
        hod, how = h % 24, (h + 72) % 168  # epoch day 0 was a Thursday; how 0 = Monday 00h
        span = t - self.t0
        p1 = self.slow + self.daily[hod] if span >= 2 * _DAY and self.daily_n[hod] >= 3 else None
        p2 = (self.slow + self.weekly[how]
              if span >= 2 * _WEEK and self.weekly_n[how] >= 2 else None)
        return self.fast, p1, p2, hod, how

    def best(self, t: float) -> tuple[float, float] | None:
        """``(expected, sigma)`` for time ``t`` from the best forecaster, or None in warm-up."""
        if self.n < self.warmup:
            return None
        c = self._cache
        if c is not None and c[0] == t:
            p0, p1, p2, _, _ = c[1]
        else:
            f = self._forecasts(t)
            self._cache = (t, f)
            p0, p1, p2 = f[0], f[1], f[2]
        err = self.err
        choice, e = p0, err[0]
        if p1 is not None and self.err_n[1] >= 20 and err[1] < 0.9 * e:
            choice, e = p1, err[1]
        if p2 is not None and self.err_n[2] >= 20 and err[2] < 0.9 * e:
            choice, e = p2, err[2]
        sigma = _SQRT_PI_2 * e
        floor = 0.5 * self.resolution if self.resolution != math.inf else 0.0
        sigma = max(sigma, floor, 1e-9 * abs(choice), SIGMA_MIN)
        if choice < 0.0 and self.nonneg and self.floor0:  # never below 0: not expected below 0
            choice = 0.0
        return choice, sigma

    # -- learning ----------------------------------------------------------------------
    def learn(self, t: float, x: float) -> None:
        """Fold ``x`` observed at ``t`` into every forecaster and its error tracker."""
        if self.n == 0:
            self.t0 = self.tl = t
            self.fast = self.slow = x
            self.prev = x
            self.nonneg = x >= 0
            self.n = 1
            return
        gap = t - self.tl
        if gap > 0:
            self.dt = gap if self.dt == 0.0 else self.dt + 0.05 * (gap - self.dt)
            self.tl = t
        d = x - self.prev if x >= self.prev else self.prev - x
        if 0.0 < d < self.resolution:
            self.resolution = d
        self.prev = x
        if x < 0:
            self.nonneg = False
        c = self._cache
        p0, p1, p2, hod, how = c[1] if c is not None and c[0] == t else self._forecasts(t)
        self._cache = None
        ae, err, err_n = self.alpha_err, self.err, self.err_n
        ax = x if x >= 0 else -x  # the caps' ε is relative: 10⁻¹² of |x| + |forecast| (unit-free)
        r = x - p0 if x >= p0 else p0 - x
        cap = 4.0 * (err[0] if err_n[0] else r) + 1e-12 * (ax + (p0 if p0 >= 0 else -p0))
        if r > cap:
            r = cap
        err[0] = r if err_n[0] == 0 else err[0] + ae * (r - err[0])
        err_n[0] += 1
        if p1 is not None:  # min(|x − p1|, cap₁), written out (hot path)
            r = x - p1 if x >= p1 else p1 - x
            c1 = 4.0 * err[1] + 1e-12 * (ax + (p1 if p1 >= 0 else -p1)) if err_n[1] else cap
            if r > c1:
                r = c1
            err[1] = r if err_n[1] == 0 else err[1] + ae * (r - err[1])
            err_n[1] += 1
        if p2 is not None:
            r = x - p2 if x >= p2 else p2 - x
            c2 = 4.0 * err[2] + 1e-12 * (ax + (p2 if p2 >= 0 else -p2)) if err_n[2] else cap
            if r > c2:
                r = c2
            err[2] = r if err_n[2] == 0 else err[2] + ae * (r - err[2])
            err_n[2] += 1
        self.fast += self.alpha_fast * (x - self.fast)
        per_hour = 3600.0 / self.dt if self.dt > 0 else 12.0
        dev = x - self.slow
        daily, daily_n, weekly, weekly_n = self.daily, self.daily_n, self.weekly, self.weekly_n
        dn = daily_n[hod] + 1
        daily_n[hod] = dn
        g = 1.0 / (3.0 * per_hour)  # ~3 days of memory per bin (plain mean while filling)
        if dn * g < 1.0:
            g = 1.0 / dn
        if g > 1.0:  # sampled sparser than 3 values a bin in 3 days: the newest replaces (a weight
            g = 1.0  # above 1 overshoots, and daily values went to inf within a year)
        daily[hod] += g * (dev - daily[hod])
        wn = weekly_n[how] + 1
        weekly_n[how] = wn
        g = 1.0 / (2.0 * per_hour)  # ~2 weeks of memory per bin
        if wn * g < 1.0:
            g = 1.0 / wn
        if g > 1.0:
            g = 1.0
        weekly[how] += g * (dev - weekly[how])
        self.slow += self.alpha_slow * (x - daily[hod] - self.slow)
        self.n += 1

    def relevel(self, x: float) -> None:
        """Accept ``x`` as the new level after a persistent shift (keeps the profiles)."""
        self.fast = x
        self.slow = x - (sum(self.daily) / 24.0)
        self.prev = x
        self._cache = None

    # -- state -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (fixed size: ~400 numbers)."""
        return slots_state(self, ("_cache",))

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SeasonalModel:
        """Inverse of :meth:`state`."""
        m: SeasonalModel = restore_slots(cls, state, ("_cache",))
        m._cache = None
        return m
