"""``context`` with a run judge: how rare, for this series, is a run of this many equal values?

    .venv/bin/python -m benchmarks.nab_runs [--workers N] [--checks]
    .venv/bin/python -m benchmarks.nab_runs --fresh     # 300 fresh held-out series (rule part 3)
    .venv/bin/python -m benchmarks.nab_runs --minute    # the 1-minute checks (rule part 4)

Why (declared in the twenty-sixth session). Of the windows the default misses at 0.5 on the
synthetic sets (threshold-choice 0–69, held-out shapes 5000–5059; scratch diagnosis), 12 of 52
are a metric that went to 0 and stayed there — a flatline, or a level drop clipped at 0 — on
series whose values seldom repeat (bytes, request counts, latency, CPU): best scores 0.33–0.50.
No judge sees a run: each 0 is a value seen before, the forecaster learns the flat line within
hours, and the resonance judge's range-normalised shapes read a flat stretch as one more shape.
On CloudWatch a metric that stops changing is the classic outage (a load balancer's request count
at 0, an agent repeating its last reading). The judge is :mod:`pipeline.anomaly.runs`: the surprise
of a value that makes the current run of equal values ``L`` long is ``−log10`` of the decayed share
of the series' ended runs at least that long (with one run of prior), a calibrated rarity like the
other judges', raised into ``context``'s largest surprise less a correction, muted after gaps as
the resonance judge is.

Seen before this declaration (scratch, stated so the selection below can count it): a first probe
of the same judge (exact lengths, no fading, less ``log10 4``) scored on NAB 78.26 / 67.72 / 83.95
| 77.49 / 66.14 / 83.06 (Twitter GOOG's window found, 8 more false positives on realTweets), on
the synthetic sets 67.09 / 58.69 / 73.16 and 64.22 / 56.27 / 71.85, normal traffic 0.91 (5 min)
and 1.13 (1 min) false alerts per model per week, the quiet shapes unchanged.

Declared variants (``ContextDetector(runs=True)``; lengths binned, ended runs fading with a
14,000-value half-life):

* ``runs`` — the run judge's surprise less ``log10 4`` (the resonance judge's correction);
* ``runs5`` — less ``log10 5`` (five judges).

Rule, fixed with them: a variant replaces the default only if (1) the nested leave-one-group-out
selection among the default and both variants on NAB scores, on all three profiles, at least the
default's own held-out score (76.87 / 66.14 / 82.26; ties admitted); (2) 5-minute normal traffic
stays under 1 false alert per model per week and the quiet shapes' mean (5 minutes, without and
with gaps) rises by at most 0.1; (3) on 300 fresh held-out series (seeds 23,840–24,139, never
generated) it is no worse than the default by more than two paired standard errors on any
profile; (4) on 60 new labelled 1-minute series (``minute_corpus`` at seeds 23,780–23,839, never
generated) at the alert level 0.5 it is no worse than the default by more than two paired standard
errors on any profile, and 1-minute normal traffic rises by at most 0.1 false alerts a week. If
both pass, the one the nested selection picks in more folds (standard profile) is adopted; ``runs``
on a tie.

Scored (after commit 4bdcc2e), all 41 | held out:

* ``runs`` 78.26 / 67.59 / 83.95 | 77.43 / 66.01 / 83.02; ``runs5`` 78.62 / **68.14** / 84.20 |
  76.70 / 66.53 / 82.14; the default 77.70 / 67.72 / 83.20 | 76.87 / 66.14 / 82.26. Nested among
  the three **77.43 / 66.84 / 83.02** (``runs5`` picked in 5 of 6 folds on every profile, ``runs``
  in the sixth): part (1) met.
* Normal traffic at 5 minutes 0.91 (``runs``) and 0.89 (``runs5``, the default's), the quiet shapes'
  mean 0.95 and 1.14 with gaps for all three, every shape the same: part (2) met.
* 300 fresh held-out series (1,443,456 points): default 63.87 / 57.81 / 70.06; ``runs`` 64.81 /
  58.01 / 71.44 (+0.941 ± 1.184 / +0.196 ± 0.270 / +1.382 ± 0.950 paired); ``runs5`` 64.65 / 58.06 /
  71.29 (+0.773 ± 1.227 / +0.247 ± 0.254 / +1.236 ± 1.007): part (3) met.
* 60 labelled 1-minute series (1,340,640 points) at 0.5: 61.43 / 54.72 / 65.56 for all three
  (every score under 0.5 the same: at 1 minute the run judge's surprise is also less ``log10 5``
  of ``density``); at each profile's optimised threshold 62.75 / 54.82 / 67.38 (default), 67.90
  (``runs``), 68.09 (``runs5``) low-FN. 1-minute normal traffic 1.12 for all three: part (4) met.
* The synthetic sets (optimised): threshold-choice 67.43 / 58.78 / 73.10 (``runs5``) against 66.44 /
  58.83 / 72.56; held-out shapes 63.65 / 54.68 / 71.51 against 62.44 / 54.68 / 70.03.

**Adopted**: ``runs5`` (picked in more folds) — ``ContextDetector()`` is ``runs=True`` with the
correction ``log10 5`` (``pipeline.anomaly.runs.PEN``); ``runs_scores(…, "default")`` is the
previous default. Where NAB's gain comes from (``nab_eval --diagnose``, per file): Twitter GOOG's
window is found (a count of 6 repeated four times at row 6758, where counts near 7 seldom repeat so
long — a chance run, not an outage; 2 more false positives there), art_daily_flatmiddle's flat
line is found a little earlier, and Twitter AMZN / FB gain 3 false positives; NAB's low-FP threshold
moves from 0.4802 to 0.476. So the low-FP goal (≥ 68 on all 41) is met by one window of chance;
standard held out is 0.17 lower than the default's, while the nested measure — the honest one for
a choice among three — is higher on every profile; against the previous default alone (``bench_anomaly``'s
pairwise nested line) ``runs5`` is picked in every fold and scores 76.70 / 66.53 / 82.14, below
76.87 / 66.14 / 82.26 on standard and low-FN, so declared alone it would not have passed. The
judge's own reason, a metric stuck at one
value, shows on the synthetic sets (their flatlines and drops clipped at 0), not on NAB. Results:
benchmarks/anomaly-experiments.md (twenty-sixth session).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

FRESH_SEEDS = range(23_840, 24_140)
"""The fresh held-out series' seeds (module docstring): never generated in an earlier session."""
MINUTE_SEEDS = range(23_780, 23_840)
"""The labelled 1-minute series' seeds (module docstring): never generated in an earlier session."""
VARIANTS = {"runs": math.log10(4.0), "runs5": math.log10(5.0)}
"""Each variant's correction of the run judge's surprise."""


def runs_scores(times: Sequence[float], values: Sequence[float | None], kind: str) -> list[float]:
    """Scores of the default this family was declared against (``kind`` "default") or of a
    declared variant (:data:`VARIANTS`), streamed through a fresh detector."""
    from pipeline.anomaly.context import ContextDetector

    d = ContextDetector(runs=kind != "default")
    if d.runs is not None:
        d.runs.pen = VARIANTS[kind]
    step = d.step
    return [step(t, v).score for t, v in zip(times, values, strict=True)]


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks.nab_density import minute_check
    from benchmarks.nab_ensemble import family_main

    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--minute", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    known, rest = ap.parse_known_args(argv)
    if known.minute:
        print("\n".join(minute_check(known.workers, runs_scores, ("default", *VARIANTS), MINUTE_SEEDS)))
        return 0
    return family_main([*rest, "--workers", str(known.workers)], "context with a run judge, on NAB",
                       runs_scores, {k: (k,) for k in VARIANTS}, fresh_seeds=FRESH_SEEDS,
                       default=partial(runs_scores, kind="default"))


if __name__ == "__main__":
    raise SystemExit(main())
