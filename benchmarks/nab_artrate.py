"""``context`` whose resonance judge reads a series sampled every minute as 5-minute means.

    .venv/bin/python -m benchmarks.nab_artrate [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_artrate --minute    # the 1-minute checks (rule below)

Why (declared in the twenty-fourth session, after ``density`` was adopted and before this variant
was scored anywhere). With rarity counted per 5 minutes (:mod:`benchmarks.nab_density`), 1-minute
normal traffic still raised 2.10 false alerts per model per week against 0.89 at 5 minutes.
Attributed in scratch code on that traffic only (each alert to the judge whose surprise won,
silences ignored): multiview 0.78 a week at 1 minute against 0.66 at 5, the resonance judge 1.60
against 0.38. The resonance judge's surprise is not a calibrated rarity (its confidence is read
directly, ``scale · o / (1 − o)``), so ``density``'s correction cannot make it per-time: it judges
blocks of 7 values, five times as many blocks a week at 1 minute, each block 7 minutes of shape
instead of 35.

Declared variant: ``art5`` — ``ContextDetector(art_period=300)``: while the running sampling
interval is at most half of 300 s (twice a period or more), the resonance judge is fed the mean of
each UTC-aligned 5-minute bucket instead of every value, pushed when the first value of the next
bucket arrives (its verdict raises that value's surprise); sampled sparser, every value as before.
Its blocks then span 35 minutes at any sampling rate, as at 5 minutes. The other judges are
unchanged.

Rule, fixed with it (``nab_density``'s, on today's default): ``art5`` replaces the default only if
(1) the nested leave-one-group-out selection between the two on NAB, on all three profiles, scores
at least the default's own held-out score (76.87 / 66.14 / 82.26); (2) 5-minute normal traffic
stays under 1 false alert a week; (3) on 60 new labelled 1-minute series (``minute_corpus`` at
seeds 23,660–23,719, never generated) at the alert level 0.5 it is no worse than the default by
more than two paired standard errors on any NAB profile; and (4) it raises fewer false alerts a
week than the default on 1-minute normal traffic.

Scored: NAB ``art5`` 77.70 / 67.72 / 83.20 | 76.87 / 66.14 / 82.26, the default's exactly (nothing on
NAB is sampled at least twice every 5 minutes); nested the same (1); the synthetic sets, 5-minute
normal traffic (0.89, part 2) and the quiet shapes bit for bit. 1-minute normal traffic **0.89**
false alerts per model per week against 2.10 (part 4: the 5-minute rate exactly). Labelled 1-minute
shapes (seeds 23,660–23,719, 1,451,520 points) at 0.5: 59.86 / 53.62 / 64.04 against 63.10 / 50.54 /
69.37 (−3.242 ± 2.532 / +3.084 ± 2.944 / **−5.322 ± 2.506** paired); at each profile's optimised
threshold 63.79 / 54.90 / 69.89 against 64.18 / 51.57 / 71.52. Low-FN is worse by more than two
paired standard errors, so part (3) fails: **not adopted**. The judge's verdicts come once per
35-minute block and from means, so the shapes it found inside a block at 1 minute — the start of
an incident — are found later or not at all. ``ContextDetector(art_period=300)`` stays an option
(off by default). Results: benchmarks/anomaly-experiments.md (twenty-fourth session).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from benchmarks.nab_eval import context_scores

MINUTE_SEEDS = range(23_660, 23_720)
"""The labelled 1-minute series' seeds (module docstring): never generated in an earlier session."""


def artrate_scores(times: Sequence[float], values: Sequence[float | None], kind: str) -> list[float]:
    """The scores of the default this family was declared against (``kind`` "default") or of the
    ``art5`` variant (both without the later ``art_clock`` and run judge, :mod:`benchmarks.nab_artclock`,
    :mod:`benchmarks.nab_runs`)."""
    extra = {"art_period": 300.0} if kind == "art5" else {}
    return context_scores(times, values, art_clock=False, runs=False, **extra)


#: The default this family was declared against.
BEFORE = partial(artrate_scores, kind="default")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_density import minute_family_main

    return minute_family_main(argv, "context whose resonance judge reads 1-minute series as 5-minute means, on NAB",
                              artrate_scores, "art5", MINUTE_SEEDS)


if __name__ == "__main__":
    raise SystemExit(main())
