"""An incident does not teach the calibrator that incidents are ordinary: multiview's calibrators
learn the points their own multiview flags at a reduced weight.

    .venv/bin/python -m benchmarks.nab_calibflag [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_calibflag --fresh     # the fresh held-out check (rule below)

Why (declared in the twenty-second session, before either variant was scored on NAB or on any
synthetic corpus). Multiview's forecaster does not learn a point its detector flags (score ≥ 0.5):
an anomaly must not become the expected value. Its calibrator — the decaying histograms that turn
each view into "how rare is this much deviation for this series" — learns every point in full,
flagged or not. So one incident of, say, 200 values at 30 σ puts a tail of 30-σ mass into the
histograms, and for the next half-life or two (600–2,000 points in the bag) a second incident of 19
σ reads as no rarer than one in twenty: after an outage, the next outage in the following days is
muted. Seen on the held-out synthetic shapes (seeds 5,000–5,119, a diagnostic of the default only,
no variant scored): on ``smooth_latency`` series the injected level shifts all follow an earlier
injected anomaly in the same series, and score 0.32–0.47 at most in their windows (0 of 3
``level_down`` and 1 of 3 ``level_up`` found at the optimised threshold 0.448). Whether the earlier
incident's mass in the histograms is what mutes them is what the variants measure. The forecaster's
principle, applied to the calibrator, has to keep the escape hatch the forecaster has in re-
levelling after 12 flags: a pattern that starts recurring (a new cron job's spikes) is flagged at
first and must still become ordinary, so a flagged point is learnt at a reduced weight, not skipped.
Two readings of "reduced", declared together for the nested measure to choose:

* ``tenth`` — a point its multiview flags (its own score ≥ 0.5, the points its forecaster skips) is
  added to that multiview's calibrator at a tenth of a point's weight (the largest value seen is
  updated as before); every other point in full;
* ``ordinary`` — every point is added at the weight ``1 − score`` (its multiview's own score):
  learnt in proportion to how ordinary the detector found it (an ordinary point ~1, a flagged
  point at most 0.5).

In the bag each member weighs by its own score, as each member's forecaster skips by its own flags.
Everything else is today's default; multiview runs on its Python path (the same numbers as the
compiled one: the "default" kind through these wrappers is ``ContextDetector()`` bit for bit — a
test), the other judges compiled.

Rule, fixed with it (the amended rule): a variant replaces the default only if the nested
leave-one-group-out selection among the default and the two, on all three profiles, scores at
least the default's own held-out score (76.87 / 66.14 / 82.26) and picks that variant; it must
raise under 1 false alert a week on normal traffic; and on 300 fresh held-out series (the held-out
generator at seeds 23,000–23,299, never generated) it must be no worse than the default by more
than two paired standard errors on any profile.

Scored: all 41 | held out ``tenth`` 76.88 / 66.89 / 82.65 | 75.65 / 66.04 / 82.00, ``ordinary``
77.05 / 66.25 / 82.76 | 76.39 / 63.34 / 81.93, against the default's 77.70 / 67.72 / 83.20 |
76.87 / 66.14 / 82.26; nested **76.87 / 66.14 / 82.26** — the default in every fold on every
profile. **Not adopted**; the fresh check was not run, so its seeds stay unused. At 0.4760 both
find the same windows (81 and 80 of 86) for more false positives (177 and 168 against 164:
realTweets 90 / 82, realKnownCause 44 / 44): on NAB's real series the bursts a calibrator learns in
full are what keeps the next ones quiet. Nor was the diagnostic's reading right: with ``tenth`` the
held-out shapes (seeds 5,000–5,119) score 63.57 / 56.05 / 70.82 against 64.15 / 56.10 / 71.27 and
``smooth_latency``'s level shifts are still found 1 of 6 times. Traced on one of them (seed 5,087:
a shift of +67 at σ 7.0): its spike view reads 9.6 σ where the earlier injected ``variance``
anomaly — a day of noise five times the usual — had left a largest residual of 42 σ (learnt
though flagged, as the escape hatch intends once such values stop being rare), and its range view
reads 0 because that day's values still hold the recent range's top. Results:
benchmarks/anomaly-experiments.md (twenty-second session).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.nab_eval import context_scores
from pipeline.anomaly.calibrate import TailCalibrator
from pipeline.anomaly.multiview import MultiViewDetector

VARIANTS = ("tenth", "ordinary")
#: The default this family was declared against.
BEFORE = context_scores
FRESH_SEEDS = range(23_000, 23_300)
"""The fresh held-out check's seeds (module docstring): never generated in an earlier session."""


class _Weighing:
    """A calibrator that adds the next points it learns at ``f`` of a point's weight (its
    :meth:`~TailCalibrator.learn`, then ``1 − f`` of the weight taken back; ``f`` 1: untouched)."""

    __slots__ = ("inner", "f")

    def __init__(self, inner: TailCalibrator) -> None:
        self.inner, self.f = inner, 1.0

    def surprise(self, views: list[int], raws: list[float], bins: list[int]) -> float:
        return self.inner.surprise(views, raws, bins)

    def learn(self, views: list[int], raws: list[float], bins: list[int]) -> None:
        c = self.inner
        c.learn(views, raws, bins)
        if self.f != 1.0:
            cut = (1.0 - self.f) * c.w  # the weight the point was just added at
            c.total -= cut
            for v, b in zip(views, bins, strict=True):
                c.hist[v][b] -= cut


class WeighingMultiView(MultiViewDetector):
    """:class:`MultiViewDetector` whose calibrator learns each point at a weight of its own score
    (``kind``: "default" 1, "tenth" 0.1 when flagged, "ordinary" ``1 − score``)."""

    __slots__ = ("kind",)

    def _learn(self, t: float, x: float | None, j: Any, score: float) -> None:
        kind = self.kind
        self.calib.f = 1.0 if kind == "default" else (  # type: ignore[attr-defined]
            (0.1 if score >= self.flag else 1.0) if kind == "tenth" else 1.0 - score)
        super()._learn(t, x, j, score)


def calibflag_scores(times: Sequence[float], values: Sequence[float | None], kind: str) -> list[float]:
    """Today's default's scores with its bag's multiviews on the Python path, their calibrators
    weighing each point as ``kind`` says (:class:`WeighingMultiView`; "default": weight 1)."""
    from benchmarks.nab_eval import bag_scores

    def member(h: float) -> WeighingMultiView:
        m = WeighingMultiView(halflife=h, slow_views=False, bin0=True)
        m.kind = kind
        m.calib = _Weighing(m.calib)  # type: ignore[assignment]
        return m

    return bag_scores(times, values, member)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "multiview's calibrators learning flagged points at a reduced weight, on NAB",
                       calibflag_scores, {n: (n,) for n in VARIANTS}, fresh_seeds=FRESH_SEEDS, default=BEFORE)


if __name__ == "__main__":
    raise SystemExit(main())
