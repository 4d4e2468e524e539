"""``context`` whose resonance judge ends its probation sooner.

    .venv/bin/python -m benchmarks.nab_probation [--workers N] [--checks]

Why (declared in the fourteenth session, before any of it was scored): ARTime's probation is 15 %
of the file, at most 750 values — on NAB's shorter files 170–600 values, with blocks of
``probation / 104`` values (1–5 instead of 7). The default's resonance judge (:class:`~pipeline.
anomaly.art.ArtJudge`) waits a fixed 750 values before it judges: half of a realAdExchange file,
2.6 days of 5-minute data, the first 19 % of a 14-day series. Alone, the length look-ahead (whose
effect is this shorter probation and its finer blocks) lifts the judge from 53.50 to 66.16 on NAB
(benchmarks/anomaly-experiments.md). A shorter *fixed* probation is a streaming choice: a new
series' shapes are judged sooner, from less history, at a finer grain. The cost to expect: the
judge fires many false positives right after its probation (thirteenth session's diagnostics), and
sooner means on a younger series.

Declared variants (ARTime's rule coupling the block to the probation is kept): probation 300, 450
and 600 values (blocks of 2, 4 and 5 values; 600 is ARTime's own choice for a 4,032-value file,
14 days at 5 minutes). Rule, fixed with them: the nested pick among the default and the three
replaces the default only if its nested held-out score is at least the default's own held-out
score (74.58 / 60.88 / 81.28) on all three profiles, it is no worse on the synthetic held-out
shapes and it raises under 1 false alert a week on normal traffic.

Results: benchmarks/anomaly-experiments.md (fourteenth session).
"""

from __future__ import annotations

from collections.abc import Sequence

VARIANTS = {"art probation=300": 300, "art probation=450": 450, "art probation=600": 600}


def probation_scores(times: Sequence[float], values: Sequence[float | None], probation: int) -> list[float]:
    """The default detector's scores with the resonance judge's probation ``probation`` values
    (750: the default detector)."""
    from pipeline.anomaly.art import ArtJudge
    from pipeline.anomaly.context import ContextDetector

    d = ContextDetector(runs=False)
    d.art = ArtJudge(probation=probation)
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "context with the resonance judge's declared probations on NAB",
                       probation_scores, {n: (p,) for n, p in VARIANTS.items()})


if __name__ == "__main__":
    raise SystemExit(main())
