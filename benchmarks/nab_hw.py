"""``context`` whose forecaster can also pick a Holt-Winters forecast: a fast level of the
deseasonalised values plus the hour-of-day profile.

    .venv/bin/python -m benchmarks.nab_hw [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_hw --fresh     # the fresh held-out check (rule below)

Why (declared in the seventeenth session, before any of these was scored). The forecaster picks,
by tracked error, among a fast level (an EW mean, α = 0.1: it follows a daily cycle ~9 points
late), a *slow* level plus the hour-of-day profile (it follows the cycle but not a day busier than
the last) and the same with the hour-of-week profile. None both follows the cycle without lag and
adapts to the day's level — Holt-Winters' level-plus-season does. Measured on the 41 development
files before this family existed (a diagnostic, no score: the mean absolute one-step error after
three days of every forecaster learning every value, against the one the model picks): a fast
level of ``x − profile`` plus the profile errs 0.80–0.88× the pick's on realAdExchange's
exchange-2 / -3, 0.78–0.89× on ambient_temperature, 0.67–0.83× on the artificial daily series,
0.94–0.97× on three realTraffic files, ~1.0× on realTweets (where the fast level wins by noise,
not by lag) and 1.06–1.19× on series without a daily cycle (where the pick keeps the old
forecasters). With the profile read as a step per hour the error is lower on square-wave cycles,
interpolated between the hours' centres lower on smooth ones.

The change (``HwModel``): a fourth forecaster ``p₃ = L + d(t)``, ``d`` the hour-of-day profile
(the model's own, learnt as it is) and ``L`` an EW mean (α = 0.1, the fast level's) of
``x − d(t)`` over the values the forecaster learns. Its error is tracked like the others' (capped
at 4× its error), it is eligible when the daily forecaster is (two days, the hour seen three
times) after 20 errors, and it is picked when its error is under 0.9× that of the forecaster
picked otherwise (the hysteresis every richer forecaster must clear). A relevel sets ``L`` so that
``p₃`` is the new value. σ, the views, the calibration, the judges and the silence are the
default's. Declared variants: ``hw step`` (``d`` the hour's bin) and ``hw interp`` (``d``
interpolated linearly between the bins' centres, hh:30).

Rule, fixed with them (the seventeenth session's): the variant the nested leave-one-group-out
selection among the default and these two picks replaces the default only if its nested held-out
score is at least the default's own held-out score (74.58 / 60.88 / 81.28) on all three
profiles, it is no worse than the default on all three profiles on 300 fresh held-out series (the
held-out generator at seeds 20,300–20,599, declared for the hour-of-day σ family but never
generated: that family failed on NAB first; ``--fresh``) and it raises under 1 false alert a week
on normal traffic.

Measured on the Python path (multiview's compiled core has no such option; the other judges stay
compiled); the default's own scores are the same there bit for bit.

Scored: all 41 | held out, hw step 74.50 / 63.42 / 80.57 | 73.15 / 59.71 / 79.94, hw interp 71.96 /
59.77 / 78.21 | 70.62 / 54.80 / 75.16; nested 70.76 / 55.73 / 77.57: **not adopted** (the fresh
check was not run). Results: benchmarks/anomaly-experiments.md (seventeenth session).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from benchmarks.nab_eval import BAGLESS, bagless_scores
from benchmarks.nab_hodsigma import FRESH_SEEDS
from pipeline.anomaly.model import _SQRT_PI_2, SeasonalModel

#: name → profile read as ``"step"`` or ``"interp"``
VARIANTS: dict[str, tuple[str]] = {"hw step": ("step",), "hw interp": ("interp",)}
ALPHA = 0.1  # the fast level's


class HwModel(SeasonalModel):
    """:class:`SeasonalModel` with a fourth, Holt-Winters forecaster (module docstring)."""

    __slots__ = ("interp", "hw", "hw_err", "hw_n", "last_t")

    def __init__(self, profile: str, **kw: float) -> None:
        super().__init__(**kw)
        self.interp = profile == "interp"
        self.hw = math.nan  # L: the level of x − d(t)
        self.hw_err = 0.0
        self.hw_n = 0
        self.last_t = math.nan

    def profile(self, t: float) -> float:
        """``d(t)``: the hour's bin, or interpolated between the bins' centres."""
        if not self.interp:
            return self.daily[int(t // 3600) % 24]
        hf = t / 3600.0 - 0.5
        h0 = math.floor(hf)
        w = hf - h0
        return self.daily[h0 % 24] * (1.0 - w) + self.daily[(h0 + 1) % 24] * w

    def hw_forecast(self, t: float) -> float | None:
        """``p₃`` at ``t``, or None while the daily forecaster is not eligible."""
        if self.hw != self.hw or t - self.t0 < 2 * 86400 or self.daily_n[int(t // 3600) % 24] < 3:
            return None
        return self.hw + self.profile(t)

    def best(self, t: float) -> tuple[float, float] | None:
        self.last_t = t
        b = super().best(t)
        p3 = self.hw_forecast(t)
        if b is None or p3 is None or self.hw_n < 20:
            return b
        f = self._cache[1] if self._cache is not None and self._cache[0] == t else self._forecasts(t)
        p1, p2 = f[1], f[2]
        err, err_n = self.err, self.err_n
        e = err[0]  # the error of SeasonalModel.best's pick, then p₃ against it
        if p1 is not None and err_n[1] >= 20 and err[1] < 0.9 * e:
            e = err[1]
        if p2 is not None and err_n[2] >= 20 and err[2] < 0.9 * e:
            e = err[2]
        if not self.hw_err < 0.9 * e:
            return b
        floor = 0.5 * self.resolution if self.resolution != math.inf else 0.0
        return p3, max(_SQRT_PI_2 * self.hw_err, floor, 1e-9 * (abs(p3) + 1.0))

    def learn(self, t: float, x: float) -> None:
        p3 = self.hw_forecast(t) if self.n else None
        if p3 is not None:
            r = abs(x - p3)
            cap = 4.0 * self.hw_err + 1e-12 if self.hw_n else r
            r = min(r, cap)
            self.hw_err = r if self.hw_n == 0 else self.hw_err + self.alpha_err * (r - self.hw_err)
            self.hw_n += 1
        d = self.profile(t)  # before the profile learns x, as p₃ was read
        self.hw = x - d if self.hw != self.hw else self.hw + ALPHA * (x - d - self.hw)
        super().learn(t, x)

    def relevel(self, x: float) -> None:
        super().relevel(x)
        if self.last_t == self.last_t:
            self.hw = x - self.profile(self.last_t)


def hw_scores(times: Sequence[float], values: Sequence[float | None], profile: str) -> list[float]:
    """The default detector's scores with the Holt-Winters forecaster among the picks (multiview
    on its Python path); ``profile`` ``"none"`` is the default itself."""
    from pipeline.anomaly.context import ContextDetector
    from pipeline.anomaly.multiview import MultiViewDetector

    d = ContextDetector(**BAGLESS)
    d.mv = MultiViewDetector(halflife=1000.0, slow_views=False)  # the default's, on the Python path
    if profile != "none":
        d.mv.model = HwModel(profile, warmup=d.mv.model.warmup)
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "context with a Holt-Winters forecaster among the picks, on NAB (declared variants)",
                       hw_scores, VARIANTS, fresh_seeds=FRESH_SEEDS,
                       default=bagless_scores)


if __name__ == "__main__":
    raise SystemExit(main())
