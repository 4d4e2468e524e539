"""``context`` whose forecaster's σ follows the hour of day (a heteroscedastic band).

    .venv/bin/python -m benchmarks.nab_hodsigma [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_hodsigma --fresh     # the fresh held-out check (rule below)

Why (declared in the seventeenth session, before any of these was scored). The forecaster has one
σ per series: ``1.2533 ×`` an exponentially weighted mean absolute error over ~100 points (8
hours of 5-minute data), so it lags the daily cycle of the noise. A residual is judged against the
noise of the hours just before: the evening rush's ordinary scatter against the afternoon's, a
quiet night's real spike against the evening's. Measured on the 41 development files before this
family existed (a diagnostic, no score: per hour of day, the mean of ``|x − forecast| / σ`` after
two days), the standardised residual's scale varies across the day in most real series: the
per-hour means' spread relative to their mean is 0.2–0.7 on realTweets, realTraffic and
realAdExchange, 0.3 on nyc_taxi (a busy hour's residuals 1.5–3× a quiet hour's), ~0.05 on
series with no daily cycle (art_noisy, cpu_utilization_asg_misconfiguration). CloudWatch's own
anomaly-detection band widens and narrows with the time of day for the same reason, and request
counts (Poisson-like: variance ∝ level) and CPU under a daily load do the same.

The change (``HodSigmaModel``): the forecaster also keeps, per hour of day, an exponentially
weighted mean of the standardised absolute residual ``min(|x − p| / σ, 4)`` of the values it
learns (flagged values are not learnt, so anomalies stay out; the cap at 4 is the error
trackers'). The σ it hands out at hour ``h`` is multiplied by ``f_h = (k·e_h / ē + M) / (k + M)``,
clamped to [0.25, 4]: ``e_h`` the hour's mean, ``ē`` the mean of the hours seen, ``k`` the hour's
sample count capped at its memory (``D`` days of that hour's points), ``M = 12`` samples of
shrinkage towards 1 (an hourly series needs about two weeks before its factors count for much; a
5-minute series one day). The tracker reads the unscaled σ, so the factor does not feed back into
itself, and because it tracks *standardised* residuals it corrects whatever the lagging σ gets
wrong at that hour, not the level of the noise. Every view that uses σ (spike, robust shift) and
the band see the scaled σ; the calibration, the judges and the silence are the default's.

Declared variants: ``hod σ 7d`` (``D = 7``: a week of each hour) and ``hod σ 3d`` (``D = 3``:
the hour-of-day profile's own memory).

Rule, fixed with them: the variant the nested leave-one-group-out selection among the default and
these two picks replaces the default only if its nested held-out score is at least the default's
own held-out score (74.58 / 60.88 / 81.28) on all three profiles, it is no worse than the default
on all three profiles on 300 fresh held-out series (the held-out generator at seeds 20,300–20,599,
never generated before; ``--fresh``) and it raises under 1 false alert a week on normal traffic.
(The 60 synthetic held-out shapes of the earlier rule are still reported by ``--checks``; they
have been seen in every decision since the fourth session, and the sixteenth session showed a
0.05 difference on them is one detection's timing, so the fresh set decides instead.)

Measured on the Python path (multiview's compiled core has no such option; the other judges stay
compiled); the default's own scores are the same there bit for bit.

Scored: all 41 | held out, hod σ 7d 69.12 / 58.18 / 75.54 | 65.42 / 52.66 / 72.71, hod σ 3d 69.49 /
57.97 / 75.46 | 68.29 / 54.61 / 74.43; nested 74.58 / 60.88 / 81.28 (the default in every fold):
**not adopted** (realTraffic's rush-hour windows are judged against the rush hour's wider σ). The
synthetic held-out shapes are better (63.85 and 64.02 against 62.44), so the fresh check was not
needed and not run. Results: benchmarks/anomaly-experiments.md (seventeenth session).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.nab_eval import BAGLESS, bagless_scores
from pipeline.anomaly.model import SeasonalModel

#: name → D, the days of each hour's residuals the factor remembers
VARIANTS: dict[str, tuple[float]] = {"hod σ 7d": (7.0,), "hod σ 3d": (3.0,)}
SHRINK = 12.0  # M: samples of shrinkage towards a factor of 1
CAP = 4.0      # a learnt standardised residual is capped at 4 (the error trackers' cap)
CLAMP = (0.25, 4.0)


class HodSigmaModel(SeasonalModel):
    """:class:`SeasonalModel` whose σ at hour of day ``h`` is scaled by that hour's factor (module
    docstring); forecasts, error trackers and profiles are the plain model's."""

    __slots__ = ("days", "hz", "hz_n")

    def __init__(self, days: float, **kw: float) -> None:
        super().__init__(**kw)
        self.days = days
        self.hz = [0.0] * 24
        self.hz_n = [0] * 24

    def factor(self, t: float) -> float:
        """``f_h`` for time ``t`` (1 before its hour has a sample)."""
        h = int(t // 3600) % 24
        k = self.hz_n[h]
        if k == 0:
            return 1.0
        seen = [e for e, n in zip(self.hz, self.hz_n, strict=True) if n]
        mean = sum(seen) / len(seen)
        if mean <= 0.0:
            return 1.0
        per_hour = 3600.0 / self.dt if self.dt > 0 else 12.0
        k = min(float(k), self.days * per_hour)
        f = (k * self.hz[h] / mean + SHRINK) / (k + SHRINK)
        return min(max(f, CLAMP[0]), CLAMP[1])

    def best(self, t: float) -> tuple[float, float] | None:
        b = super().best(t)
        return None if b is None else (b[0], b[1] * self.factor(t))

    def learn(self, t: float, x: float) -> None:
        b = super().best(t)  # the unscaled σ: the factor does not learn from itself
        if b is not None:
            p, sigma = b
            z = abs(x - p) / sigma
            h = int(t // 3600) % 24
            n = self.hz_n[h] + 1
            self.hz_n[h] = n
            per_hour = 3600.0 / self.dt if self.dt > 0 else 12.0
            g = max(1.0 / n, 1.0 / (self.days * per_hour))
            self.hz[h] += g * (min(z, CAP) - self.hz[h])
        super().learn(t, x)


def hod_scores(times: Sequence[float], values: Sequence[float | None], days: float) -> list[float]:
    """The default detector's scores, its forecaster's σ scaled by the hour of day's factor
    (multiview on its Python path); ``days <= 0`` is the default itself."""
    from pipeline.anomaly.context import ContextDetector
    from pipeline.anomaly.multiview import MultiViewDetector

    d = ContextDetector(**BAGLESS)
    d.mv = MultiViewDetector(halflife=1000.0, slow_views=False)  # the default's, on the Python path
    if days > 0:
        d.mv.model = HodSigmaModel(days, warmup=d.mv.model.warmup)
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


FRESH_SEEDS = range(20_300, 20_600)
"""The fresh held-out check's seeds: never generated in an earlier session (the sixteenth used
20,000–20,299)."""


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "context with an hour-of-day σ, on NAB (declared variants)",
                       hod_scores, VARIANTS, fresh_seeds=FRESH_SEEDS,
                       default=bagless_scores)


if __name__ == "__main__":
    raise SystemExit(main())
