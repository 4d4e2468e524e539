"""``bag+values`` on the near-alert default, under the amended rule, on series never generated.

    .venv/bin/python -m benchmarks.nab_bagnear [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_bagnear --fresh     # the fresh held-out check (rule below)

Why (declared in the twentieth session, before it was scored on today's default or on the fresh
series below). ``bag+values`` (:mod:`benchmarks.nab_near`: multiview's views at calibration
half-lives 600 / 1,000 / 2,000 with their median surprise — a variance cure, since half-lives
1,000 and 2,000 tie on NAB overall but move single groups by ±5 — and the 4-value sequence judge
dropped, the judges' correction kept at ``log10 3``) has passed NAB's nested leave-one-group-out
part of the rule every time it was scored (sixteenth session, as part of its family; nineteenth,
:mod:`benchmarks.nab_bagvalues`: nested 75.94 / 61.96 / 81.64 against 74.71 / 61.14 / 81.37) and
has failed only the synthetic checks, by hundredths — last on the fresh series at seeds
20,600–20,899 by 0.03 on low-FP (−0.030 ± 0.022 paired), which is inside the two-standard-error
tolerance the rule was amended to afterwards; the amendment was not applied to it then, and is not
applied to that result now. Since then the default has changed: the silence after a near-alert
(:mod:`benchmarks.nab_debounce`, :mod:`benchmarks.nab_nearspan`), which acts on the calibrated
score after the judges, so the bag's variance cure and the silence act on different stages.

This is the fourth time the bag is declared, which is a forking path of its own; what protects
against it is that each check is on series never generated before, and that this declaration is
the last: if it fails, the bag is recorded as not adopted and not declared again.

Declared variant (:func:`benchmarks.nab_near.near_scores`, which built on ``ContextDetector()``,
so on the default of the time with ``gaps`` and ``near=36``; since this family's adoption it builds
on :data:`~benchmarks.nab_eval.BAGLESS`, the same detector): ``bag+values``.

Rule, fixed with it (the amended rule): ``bag+values`` replaces the default only if the nested
leave-one-group-out selection between the two, on all three profiles, scores at least the
default's own held-out score (76.50 / 65.35 / 82.01), it raises under 1 false alert a week on
normal traffic, and on 300 fresh held-out series (the held-out generator at seeds 21,500–21,799,
never generated) it is no worse than the default by more than two paired standard errors on any
profile.

Scored: all 41 | held out ``bag+values`` **77.54 / 67.39 / 83.09 | 76.71 / 65.81 / 82.15** against
the default's 77.22 / 66.82 / 82.88 | 76.50 / 65.35 / 82.01; nested **76.71 / 65.81 / 82.15**,
picked in every fold on every profile. Fresh held-out series (seeds 21,500–21,799, 300 series,
1,556,352 points): 64.43 / 57.98 / 68.77 against 64.39 / 57.88 / 68.83 (+0.045 ± 0.028 / +0.096
± 0.046 / −0.061 ± 0.234 paired: better on standard and low-FP, low-FN within a quarter of one
standard error). Normal traffic 0.92 false alerts a week (the default's); synthetic
threshold-choice set 66.35 / 58.65 / 72.44 (66.35 / 58.65 / 72.57), held-out shapes 62.50 / 54.68
/ 70.06 (62.50 / 54.20 / 69.36); quiet shapes 1.00 a week (1.02), 1.17 with gaps (1.19).
**Adopted** by the rule: ``ContextDetector()`` judges with
:class:`~pipeline.anomaly.bag.MultiViewBag` and ``block=0``, bit for bit this variant on all 41
files (``tests/benchmarks/test_nab_bagnear.py``); ``ContextDetector(halflife=1000, block=4)`` is
the previous default (:data:`benchmarks.nab_eval.BAGLESS`, which the families declared before this
one build on). Results: benchmarks/anomaly-experiments.md (twentieth session).
"""

from __future__ import annotations

from benchmarks.nab_eval import bagless_scores
from benchmarks.nab_near import VARIANTS as NEAR
from benchmarks.nab_near import near_scores

VARIANTS = {"bag+values": NEAR["bag+values"]}
FRESH_SEEDS = range(21_500, 21_800)
"""The fresh held-out check's seeds (module docstring): never generated in an earlier session."""


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "bag+values on the near-alert default, on NAB",
                       near_scores, VARIANTS, fresh_seeds=FRESH_SEEDS,
                       default=bagless_scores)


if __name__ == "__main__":
    raise SystemExit(main())
