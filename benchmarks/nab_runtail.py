"""The run judge with a tail past the longest ended run (on today's default, which has the judge).

    .venv/bin/python -m benchmarks.nab_runtail [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_runtail --fresh     # 300 fresh held-out series (rule part 3)
    .venv/bin/python -m benchmarks.nab_runtail --minute    # the 1-minute checks (rule part 4)
    .venv/bin/python -m benchmarks.nab_runtail --flat      # the flat-0 check (not part of the rule)

Why (declared in the twenty-sixth session, right after :mod:`benchmarks.nab_runs` was adopted and
before this variant was scored anywhere). The run judge's surprise is the decayed share of ended
runs at least as long as the current one, with one run of prior: a run longer than every ended run
is one in ``N`` however long it grows, so alone the judge reaches the alert level 0.5 only after
~5,000 ended runs at 5 minutes. A metric that falls to 0 and stays there after ten days of noisy
bytes — the outage the judge was built for — was alerted no more with it than without it (scratch,
five seeds of log-normal bytes, stated in ``nab_runs``' record). The calibrator has the same
problem past its largest value and extrapolates a Pareto tail ``∝ (max / raw)^4``
(:data:`~pipeline.anomaly.calibrate.TAIL_EXP`); the same reading for runs is declared here.

Declared variant: ``tail`` — ``RunJudge(exponent=TAIL_EXP)`` (:mod:`pipeline.anomaly.runs`): a run
``L`` long, longer than the longest ended run ``M`` (which fades as the ended runs do), adds
``4 · log10(L / M)`` to the judge's surprise. Everything else as the default.

Rule, fixed with it (``nab_runs``' rule on today's default): ``tail`` replaces the default only if
(1) the nested leave-one-group-out selection between the two on NAB scores, on all three
profiles, at least the default's own held-out score (76.70 / 66.53 / 82.14; ties admitted); (2)
5-minute normal traffic stays under 1 false alert per model per week and the quiet shapes' mean
(5 minutes, without and with gaps) rises by at most 0.1; (3) on 300 fresh held-out series (seeds
24,140–24,439, never generated) it is no worse than the default by more than two paired standard
errors on any profile; (4) on 60 new labelled 1-minute series (``minute_corpus`` at seeds
24,440–24,499, never generated) at the alert level 0.5 it is no worse than the default by more
than two paired standard errors on any profile, and 1-minute normal traffic rises by at most 0.1
false alerts a week.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

FRESH_SEEDS = range(24_140, 24_440)
"""The fresh held-out series' seeds (module docstring): never generated in an earlier session."""
MINUTE_SEEDS = range(24_440, 24_500)
"""The labelled 1-minute series' seeds (module docstring): never generated in an earlier session."""
FLAT_SEEDS = range(5)
"""The flat-0 check's series (:func:`flat_check`)."""


def runtail_scores(times: Sequence[float], values: Sequence[float | None], kind: str) -> list[float]:
    """Scores of today's default (``kind`` "default") or of the ``tail`` variant, streamed through a
    fresh detector."""
    from pipeline.anomaly.calibrate import TAIL_EXP
    from pipeline.anomaly.context import ContextDetector

    d = ContextDetector()
    if kind == "tail" and d.runs is not None:
        d.runs.exponent = TAIL_EXP
    step = d.step
    return [step(t, v).score for t, v in zip(times, values, strict=True)]


def flat_series(seed: int) -> tuple[list[float], list[float], int]:
    """Ten and a half days of 5-minute log-normal bytes with a daily cycle, then 0 for 5 hours, then
    bytes again: ``(times, values, first row of the 0s)``."""
    import math
    import random

    rng = random.Random(seed)
    n = 3_000
    vals = [float(round(rng.lognormvariate(10, 0.5) * (1 + 0.5 * math.sin(2 * math.pi * i / 288)))) for i in range(n)]
    vals += [0.0] * 60 + [float(round(rng.lognormvariate(10, 0.5))) for _ in range(200)]
    return [1.7e9 + 300.0 * i for i in range(len(vals))], vals, n


def flat_check() -> list[str]:
    """Per kind and seed: the first alert (at 0.5) inside the 0s, in rows after their start, and
    the alerts before them."""
    out = []
    for kind in ("default", "tail"):
        got = []
        for seed in FLAT_SEEDS:
            ts, vs, start = flat_series(seed)
            sc = runtail_scores(ts, vs, kind)
            first = next((i for i, s in enumerate(sc[start:start + 60]) if s >= 0.5), None)
            got.append(f"{'missed' if first is None else f'+{first}'} ({sum(s >= 0.5 for s in sc[:start])} before)")
        out.append(f"  flat 0 after 3,000 log-normal bytes, {kind:8s}: " + "; ".join(got))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks.nab_density import minute_check
    from benchmarks.nab_ensemble import family_main

    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--minute", action="store_true")
    ap.add_argument("--flat", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    known, rest = ap.parse_known_args(argv)
    if known.minute:
        print("\n".join(minute_check(known.workers, runtail_scores, ("default", "tail"), MINUTE_SEEDS)))
        return 0
    if known.flat:
        print("\n".join(flat_check()))
        return 0
    return family_main([*rest, "--workers", str(known.workers)], "the run judge with a tail past its longest run",
                       runtail_scores, {"tail": ("tail",)}, fresh_seeds=FRESH_SEEDS,
                       default=partial(runtail_scores, kind="default"))


if __name__ == "__main__":
    raise SystemExit(main())
