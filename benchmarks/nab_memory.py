"""``context`` with the forecaster's two memories halved or doubled: how fast its level follows the
values, and how fast its σ follows the errors.

    .venv/bin/python -m benchmarks.nab_memory [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_memory --fresh     # the fresh held-out check (rule below)

Why (declared in the seventeenth session, before any of these was scored). The two families scored
earlier this session changed the forecaster in one direction each and both lost on NAB: a
Holt-Winters forecaster that follows the day's level sooner (``nab_hw``: 74.50 at best, against
75.80) and a σ that follows the hour of day (``nab_hodsigma``: 69.49). Neither memory was ever in a
grid: the 66 variants the default was picked from tuned the calibration and the judges, and the
forecaster's ``alpha_fast = 0.1`` (the fast level, ~10 points) and ``alpha_err = 0.01`` (the
error trackers behind σ, ~100 points) are the first session's. If following sooner loses, a level
that follows later may keep an anomaly's first points out of the forecast longer — or lag a
trend into false alerts; a σ with a longer memory is steadier, a shorter one follows the noise
of the hour. Only a measurement tells, in both directions. Declared variants (everything else the
default's, compiled):

* ``fast 0.05`` and ``fast 0.2`` (``alpha_fast`` halved, doubled);
* ``err 0.005`` and ``err 0.02`` (``alpha_err`` halved, doubled).

Rule, fixed with them (the seventeenth session's): the variant the nested leave-one-group-out
selection among the default and these four picks replaces the default only if its nested held-out
score is at least the default's own held-out score (74.58 / 60.88 / 81.28) on all three profiles,
it is no worse than the default on all three profiles on 300 fresh held-out series (the held-out
generator at seeds 20,300–20,599, never generated: ``--fresh``) and it raises under 1 false alert
a week on normal traffic.

Scored: all 41 | held out, fast 0.05 73.52 / 62.18 / 79.63 | 72.04 / 58.47 / 77.87, fast 0.2 71.80 /
60.86 / 77.60 | 67.51 / 56.94 / 75.87, err 0.005 71.88 / 60.62 / 78.38 | 70.62 / 56.53 / 77.39, err
0.02 74.75 / 64.00 / 80.45 | 73.52 / 60.00 / 76.83; nested 72.39 / 58.35 / 79.04: **not adopted**
(every direction loses; the fresh check was not run). Results: benchmarks/anomaly-experiments.md
(seventeenth session).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.nab_eval import BAGLESS, bagless_scores
from benchmarks.nab_hodsigma import FRESH_SEEDS

#: name → (alpha_fast, alpha_err)
VARIANTS: dict[str, tuple[float, float]] = {
    "fast 0.05": (0.05, 0.01), "fast 0.2": (0.2, 0.01),
    "err 0.005": (0.1, 0.005), "err 0.02": (0.1, 0.02),
}


def memory_scores(times: Sequence[float], values: Sequence[float | None], alpha_fast: float,
                  alpha_err: float) -> list[float]:
    """The default detector's scores with its forecaster's ``alpha_fast`` and ``alpha_err``
    (multiview compiled when it can be: the state carries both)."""
    from pipeline.anomaly.context import ContextDetector
    from pipeline.anomaly.multiview import MultiViewDetector, mv_core

    d = ContextDetector(**BAGLESS)
    mv = MultiViewDetector(halflife=1000.0, slow_views=False)  # the default's
    mv.model.alpha_fast, mv.model.alpha_err = alpha_fast, alpha_err
    d.mv = mv_core(mv) or mv
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "context with the forecaster's memories halved or doubled, on NAB (declared variants)",
                       memory_scores, VARIANTS, fresh_seeds=FRESH_SEEDS,
                       default=bagless_scores)


if __name__ == "__main__":
    raise SystemExit(main())
