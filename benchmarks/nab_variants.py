"""The lever variants :mod:`benchmarks.nab_levers` scores on NAB: each declared here, with the
session and the order in which it was declared (before or after which scores), so the nested
leave-one-group-out selection over them is the honest measure of picking one."""

from __future__ import annotations

from typing import Any

#: The variants measured (name → lever parameters); ``{}`` is the default detector.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    **{f"ew a={a}": {"lever": "ew", "alpha": a} for a in (0.1, 0.2, 0.25, 0.3, 0.4, 0.5)},
    "ew a=0.3 pen=0.3": {"lever": "ew", "alpha": 0.3, "pen": 0.3},
    "ew a=0.3 pen=0.6": {"lever": "ew", "alpha": 0.3, "pen": 0.6},
    "ew a=0.3 hl=3000": {"lever": "ew", "alpha": 0.3, "halflife": 3000.0},
    **{f"cusum k={k}": {"lever": "cusum", "k": k} for k in (0.3, 0.5, 0.7, 1.0)},
    # a fourth judge, corrected like one (log10 4)
    "cusum k=0.7 pen=0.6": {"lever": "cusum", "k": 0.7, "pen": 0.602},
    # issue 18, session 5: the papers' own parameters, one set each (a fourth judge: log10 4)
    "sr": {"lever": "sr", "pen": 0.602},
    "sr alone": {"lever": "sr_alone"},
    "sr every=16": {"lever": "sr", "pen": 0.602, "every": 16},
    "sr every=64": {"lever": "sr", "pen": 0.602, "every": 64},
    "spot q=1e-4": {"lever": "spot", "q": 1e-4},
    "spot q=1e-3": {"lever": "spot", "q": 1e-3},
    # chosen after the two above failed: every value learnt, no bounded tail
    "spot free": {"lever": "spot", "q": 0.0, "unbounded": True},
    "dspot": {"lever": "dspot", "pen": 0.602},
    "shift w=10": {"lever": "shift", "pen": 0.602, "w": 10},
    "dspot alone": {"lever": "dspot_alone"},
    # issue 18, session 6: ARTime's method with its own parameters (one set, chosen before scoring)
    "art alone": {"lever": "art_alone"},
    "art": {"lever": "art", "pen": 0.602},
    # its neighbours for the nested selection (declared with the two above, before any score)
    "art pen=0.477": {"lever": "art", "pen": 0.477},
    "art direct": {"lever": "art_direct", "pen": 0.602},
    "art probation=300": {"lever": "art", "pen": 0.602, "art": {"probation": 300}},
    # after the five above were scored: a stricter direct reading, and blocks of 31 values (ART's
    # cost / 4.4, for the speed budget)
    "art direct pen=1": {"lever": "art_direct", "pen": 1.0},
    "art direct pen=1.5": {"lever": "art_direct", "pen": 1.5},
    "art direct gated": {"lever": "art_direct", "pen": 0.602, "gated": True},
    # streaming stand-ins for ARTime's range look-ahead: the probation's range widened by m spans
    **{f"art alone margin={m}": {"lever": "art_alone", "art": {"margin": m}} for m in (1.0, 3.0)},
    **{f"art direct margin={m}": {"lever": "art_direct", "pen": 0.602, "art": {"margin": m}} for m in (1.0, 3.0)},
    "art direct coarse": {"lever": "art_direct", "pen": 0.602, "art": {"windows_per_probation": 3}},
    # session 11, once "art direct" became the default: the two readings above that were chosen
    # after seeing scores (pen=1, margin=3.0) and their combination, declared with this rule before
    # the combination was scored: the one the nested selection among the four picks replaces the
    # default only if it is also better held out on standard and low-FN, no worse on the
    # synthetic held-out shapes (never used to choose) and under 1 false alert a week on normal
    # traffic (nab_levers --checks)
    "art direct margin=3.0 pen=1": {"lever": "art_direct", "pen": 1.0, "art": {"margin": 3.0}},
    # reference only, not streaming: ARTime's probation from the file's length (15 %, at most 750)
    "art alone file-probation": {"lever": "art_alone", "art": {"probation": "file"}},
    "art alone file-probation file-range": {"lever": "art_alone", "art": {"probation": "file", "range": "file"}},
    # issue 18, session 7: a CAD OSE-style context-novelty judge (pipeline/anomaly/cad.py), its
    # paper's parameters (8 levels, contexts up to 7 long, threshold 0.75, rest 150); the four
    # readings declared together before any was scored
    "cad alone": {"lever": "cad_alone"},
    "cad": {"lever": "cad", "pen": 0.602},
    "cad w=10": {"lever": "cad", "pen": 0.602, "window": 10},
    "cad direct": {"lever": "cad_direct", "pen": 0.602},
    # after those four were scored (the judge alone far below CAD OSE's own 69.34: runs of 7 are
    # nearly always new): shorter runs and coarser levels, declared together before scoring
    **{f"cad{' alone' if a else ''} depth={d} levels={lv}": {"lever": "cad_alone" if a else "cad",
       "pen": 0.602, "cad": {"depth": d, "levels": lv}} for a in (False, True) for d, lv in ((3, 8), (7, 4), (3, 4))},
    # CAD OSE's own mechanism (pipeline/anomaly/cad_ose.py): the reference with NAB's look-aheads,
    # then streaming (range of the first 300 values, rest 150) alone and as a fourth judge
    "ose alone file-range file-rest": {"lever": "ose_alone", "cad": {"range": "file", "rest": "file"}},
    "ose alone": {"lever": "ose_alone"},
    "ose": {"lever": "ose", "pen": 0.602},
    "ose w=10": {"lever": "ose", "pen": 0.602, "window": 10},
    "ose direct": {"lever": "ose_direct", "pen": 0.602},
    # after those five were scored (the readings above, nested, below the default): the brief's
    # other reading, CAD OSE in place of the sequence judge(s), declared together before scoring
    "ose w=10 for seq": {"lever": "ose", "pen": 0.477, "window": 10, "replace": "seq"},
    "ose for seq": {"lever": "ose", "pen": 0.477, "replace": "seq"},
    "ose w=10 for both": {"lever": "ose", "pen": 0.301, "window": 10, "replace": "both"},
    # issue 18, session 10: Bayesian online change-point detection (pipeline/anomaly/bocpd.py;
    # hazard 250, 200 runs kept), a fourth judge; three readings declared together before scoring
    "bocpd": {"lever": "bocpd", "pen": 0.602},
    "bocpd w=10": {"lever": "bocpd", "pen": 0.602, "window": 10},
    "bocpd cp": {"lever": "bocpd_cp", "pen": 0.602},
    # issue 18, session 12: re-alert only on escalation — after the 36-point silence, until
    # ``escalate`` points from an alert, only a higher score alerts again (an operator's "notify
    # again only if it gets worse"); on the default (art direct). Four lengths declared together,
    # with this rule, before any was scored: the one the nested selection among the default and
    # these four picks replaces the default's silence only if its nested held-out score is at
    # least the default's own held-out score on all three profiles, no worse on the synthetic
    # held-out shapes and under 1 false alert a week on normal traffic (--checks)
    **{f"escalate {r}": {"lever": "art_direct", "pen": 0.602, "escalate": r} for r in (72, 144, 288, 576)},
    # the sequence judges re-checked now that the resonance judge watches shapes (at NAB's
    # threshold the judge on values and the one on 4-value means fire 18 false positives for 3
    # first detections): three ablations, corrections unchanged, declared together with the same
    # rule as the escalation variants before any was scored
    "art direct no seq": {"lever": "art_direct", "pen": 0.602, "replace": "both"},
    "art direct block seq only": {"lever": "art_direct", "pen": 0.602, "replace": "seq"},
    "art direct value seq only": {"lever": "art_direct", "pen": 0.602, "replace": "block"},
}
#: Variants also checked on the synthetic corpora and on generated normal traffic (``--checks``).
CHECKED = ("default", "ew a=0.3", "cusum k=0.7", "cusum k=0.7 pen=0.6")
