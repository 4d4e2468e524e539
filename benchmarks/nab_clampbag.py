"""Today's default (the multiview bag) whose forecasts of a non-negative series are at least 0.

    .venv/bin/python -m benchmarks.nab_clampbag [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_clampbag --fresh     # the fresh held-out check (rule below)

Why (declared in the twenty-fourth session, before it was scored on today's default, on NAB or on
any synthetic corpus). The forecaster's daily and weekly forecasts are the slow level plus an
hour's profile; on a series that sits at 0 between bursts — an error count, an empty queue — the
profile learns the bursts and the slow level goes below 0 to make up for them, so the forecast of
an ordinary 0 is negative. Traced on today's default on ``benchmarks.quiet_shapes``'
zero_with_bursts: at row 4,069 the value 0 was forecast −0.91 (σ 1.97), read as a rise of 0.46 σ,
and multiview's robust shift "up" — a view that had hardly ever been positive there — scored 8.73
(score 0.744: a false alert on a 0 among 0s). The same forecast is the band's centre that
``anomalies score --band``, ``ANOMALY_DETECTION_BAND`` and the dashboards show: an expected −0.91
errors. The eighteenth session's :mod:`benchmarks.nab_clamp` measured this fix on the default of
its day (one multiview, before the bag): a tie on NAB, the quiet shapes 1.02 → 0.98, not adopted
because the measures could not tell it apart and it needed a second compiled forecaster; the
default has since changed (the bag, bin0, the relative σ floors), so it is declared again here, on
the bag, once.

Declared variant: ``clamp0`` — in every member of the bag, while no negative value has been seen,
the forecast multiview judges against (and the band is drawn around) is ``max(forecast, 0)``
(:class:`benchmarks.nab_clamp.ClampedModel`); σ is unchanged and the forecaster learns as before.
The members on multiview's Python path, the other judges compiled.

Rule, fixed with it (the amended rule): ``clamp0`` replaces the default only if the nested
leave-one-group-out selection between the two, on all three profiles, scores at least the
default's own held-out score (76.87 / 66.14 / 82.26), it raises under 1 false alert a week on
normal traffic, and on 300 fresh held-out series (the held-out generator at seeds 23,300–23,599,
never generated) it is no worse than the default by more than two paired standard errors on any
profile. If adopted it goes into the one compiled forecaster (``_mv_model.c``) and the Python one,
bit for bit this variant on all 41 files.

Scored (the default before it on multiview's Python path, :data:`BEFORE`): all 41 | held out
``clamp0`` **77.70 / 67.72 / 83.20 | 76.87 / 66.14 / 82.26**, the default's exactly (no alert on NAB
crosses a threshold either way); nested 76.87 / 66.14 / 82.26 — the default's own held-out score,
which the rule's "at least" admits (a tie goes to the default in every fold, as with ``bin0`` in
the twentieth session). Fresh held-out series (seeds 23,300–23,599, 300 series, 1,493,856 points):
60.45 / 53.89 / 66.22 for both (+0.000 ± 0.000 on every profile). Normal traffic 0.89 false alerts
a week (the same); synthetic threshold-choice set 66.44 / 58.83 / 72.56 (72.53), held-out shapes
62.44 / 54.68 / 70.03 (the same); quiet shapes 0.98 → 0.95 a week (zero_with_bursts 4.33 → 4.00),
1.14 with gaps (the same). **Adopted** by the rule: :class:`~pipeline.anomaly.model.SeasonalModel`
and the compiled forecaster (``_mv_model.c``'s ``mv_best``) clamp, bit for bit this variant on all
41 files and the quiet shapes (``tests/benchmarks/test_nab_clampbag.py``). What decided it is not
NAB, which cannot see it, but what the forecast is for: the band's centre of a count that is never
negative is not a negative count, and an ordinary 0 is not a rise. Results:
benchmarks/anomaly-experiments.md (twenty-fourth session).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

VARIANTS = {"clamp0": ("clamp0",)}
FRESH_SEEDS = range(23_300, 23_600)
"""The fresh held-out check's seeds (module docstring): never generated in an earlier session."""


def clampbag_scores(times: Sequence[float], values: Sequence[float | None], kind: str) -> list[float]:
    """The bag's scores with every member's forecaster the clamped one (``kind`` "clamp0") or the
    one before (``kind`` "default": :class:`~benchmarks.nab_clamp.UnclampedModel`, the default this
    family was declared against), members on multiview's Python path. Since the adoption
    "clamp0" is today's default bit for bit (a test)."""
    from benchmarks.nab_clamp import ClampedModel, UnclampedModel
    from benchmarks.nab_eval import bag_scores
    from pipeline.anomaly.multiview import MultiViewDetector

    def member(h: float) -> MultiViewDetector:
        m = MultiViewDetector(halflife=h, slow_views=False, bin0=True)
        m.model = ClampedModel(warmup=30) if kind == "clamp0" else UnclampedModel(warmup=30)
        return m

    return bag_scores(times, values, member)


#: The default this family was declared against (its forecaster :class:`~benchmarks.nab_clamp.UnclampedModel`).
BEFORE = partial(clampbag_scores, kind="default")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "the bag's forecasts of a non-negative series at least 0, on NAB",
                       clampbag_scores, VARIANTS, fresh_seeds=FRESH_SEEDS, default=BEFORE)


if __name__ == "__main__":
    raise SystemExit(main())
