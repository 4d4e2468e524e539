"""The lever variants of :mod:`benchmarks.nab_levers` beyond NAB: on the labelled synthetic corpora
(:mod:`benchmarks.anomaly_synth`) and on a month of generated normal traffic
(``python -m benchmarks.nab_levers --checks``)."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks import nab
from benchmarks.nab_levers import rescore, series_components
from benchmarks.nab_variants import CHECKED, VARIANTS


def checks(names: Sequence[str] = CHECKED) -> list[str]:
    """The variants on the labelled synthetic corpora (optimised standard / low-FP / low-FN, and
    standard at the fixed 0.5) and their alerts per model per week on 28 days of generated normal
    traffic for the 15 sample series (at 0.5), as ``bench_anomaly`` measures the default."""
    from benchmarks.anomaly_synth import corpus, heldout_corpus
    from benchmarks.sample_traffic import sample_month
    from pipeline.anomaly import DEFAULT_THRESHOLD

    out = []
    sr = any(str(VARIANTS[n].get("lever", "")).startswith("sr") for n in names)
    for set_name, series in (("synthetic threshold-choice set (70)", corpus(range(0, 70))),
                             ("synthetic held-out shapes (60)", heldout_corpus(range(5000, 5060)))):
        comps = [(series_components([t.timestamp() for t in s.timestamps], s.values, sr=sr), s.windows)
                 for s in series]
        for name in names:
            files = [(rescore(c, **VARIANTS[name]), w) for c, w in comps]
            res = [nab.optimise_threshold(files, p) for p in nab.PROFILES.values()]
            at = nab.corpus_score(files, DEFAULT_THRESHOLD)
            out.append(f"  {set_name:37s} {name:20s} " + " / ".join(f"{r[1]:.2f}" for r in res)
                       + f" (thr {res[0][0]:.3f}); at 0.5 {at:.2f}")
    normal, _ = sample_month()
    comps = [series_components(ts, vs, sr=sr) for _, ts, vs in normal]
    weeks = len(normal) * 28 / 7
    for name in names:
        alerts = sum(sum(v >= DEFAULT_THRESHOLD for v in rescore(c, **VARIANTS[name])) for c in comps)
        out.append(f"  28 days of normal sample traffic ({len(normal)} models) {name:20s} "
                   f"{alerts / weeks:.2f} alerts per model per week")
    return out
