"""Score levers on top of the ``context`` detector's judges, measured on NAB without re-running it.

    .venv/bin/python -m benchmarks.nab_levers [--workers N]

The detector's judges are computed once per file (:func:`components`: multiview's calibrated
surprise ``S`` and the larger of the two sequence surprises ``Q``, both less the judges'
correction, exactly as :meth:`ContextDetector.step` forms them); a lever only changes how they
become a score, so each variant is rescored in seconds (:func:`rescore`; with no lever it gives
``ContextDetector(art=False, gaps=False, **BAGLESS).step``'s scores bit for bit — the default until the
eleventh session —, and with ``art_direct`` at ``pen=ART_PEN`` the default's own until the
eighteenth, ``ContextDetector(gaps=False, **BAGLESS)``: tests; :data:`~benchmarks.nab_eval.BAGLESS`). Levers:

* ``ew``: an accumulated-evidence judge — the EW mean (``alpha``) of the positive part of
  ``C = max(S, Q)`` over recent points, calibrated against its own history (a
  :class:`TailCalibrator`, half-life ``halflife``) less ``pen``; the score takes the larger of ``C``
  and it (HTM's "likelihood of the recent error window");
* ``cusum``: the same with a CUSUM ``g = max(0, g + C⁺ − k)`` instead of the EW mean (evidence
  that builds up before the labelled point: early detection);
* ``sr``: Spectral Residual (:mod:`pipeline.anomaly.spectral`, the paper's window 1,440, q 3, z 21,
  m 5) as a further judge: its score ``O⁺`` calibrated like the others, less ``pen``;
  ``sr_alone``: that judge alone (``pen`` 0), i.e. :class:`SpectralDetector`'s scores;
* ``spot``: SPOT (:mod:`pipeline.anomaly.evt`, initial quantile 0.98 of the first 1,000 values,
  risk ``q``) fitted to ``C`` itself — the score's surprise becomes ``−log10`` of the series' own
  Generalised Pareto tail of ``C`` (the default's ``C`` until the 1,000 values are in);
* ``shift``: a level-shift judge — the mean of the last ``w`` values against the mean of the
  ``long`` values before them, in standard errors (``|Δ| / (sd_long · √(1/w + 1/long))``),
  calibrated like the others, less ``pen`` (for drops to a level seen before, which the range
  view cannot see);
* ``dspot``: bidirectional DSPOT (depth 10, ``q`` 1e-4) on the raw values as a further judge less
  ``pen``; ``dspot_alone``: that judge alone;
* ``art``: the adaptive-resonance judge (:mod:`pipeline.anomaly.art`, ARTime's parameters; ``art``
  overrides them) as a further judge: its confidence at each block end calibrated like the others
  (among the values it judges), less ``pen``; ``art_direct``: its confidence ``c`` read as a surprise
  through the score map's inverse (``scale · c / (1 − c)``) less ``pen``; ``art_alone``: the
  judge alone, its confidence the score (:class:`ArtDetector`'s scores); ``gated``: ART counts
  only in a block where the context's own surprise was positive. Results: :mod:`pipeline.anomaly.art`.
* ``cad``: the CAD OSE-style run-novelty judge (:mod:`pipeline.anomaly.cad`; ``cad`` its
  parameters) as a further judge: ``10 ·`` its raw novelty (mean of the last ``window``) calibrated
  like the others, less ``pen``, after ``report_after`` values; ``cad_direct``: CAD's reported score
  read through the score map's inverse; ``cad_alone``: the reported score itself; ``ose``,
  ``ose_direct``, ``ose_alone``: the same with CAD OSE's own context operator
  (:mod:`pipeline.anomaly.cad_ose`); ``replace``: the judge takes the place of the sequence judge
  on values (``"seq"``) or of both (``"both"``); ``"block"`` drops only the judge on 4-value
  means (an ablation: no lever judge takes its place). Results: those modules.
* ``bocpd``: Bayesian online change-point detection (:mod:`pipeline.anomaly.bocpd`) read like
  ``cad`` (its z-like value, ``window``-averaged, calibrated); ``bocpd_cp``: its short-run mass.

Printed: all-41 and leave-one-group-out scores per variant (standard / low-FP / low-FN), nested
leave-one-group-out over all variants and per family (the honest number for picking one), and the
baseline's diagnosis (:func:`benchmarks.nab_eval.diagnose`); ``--checks`` adds a few variants on
the labelled synthetic corpora and their false alarms on generated normal traffic.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import nab
from benchmarks.nab_eval import BAGLESS, CORPUS, Scored, diagnose, evaluate, nested_logo, render_diagnosis
from benchmarks.nab_judges import art_raw, bocpd_rows, cad_ose_rows, cad_raw_rows, sequence_parts
from benchmarks.nab_variants import CHECKED, VARIANTS

PROFILES = ("standard", "reward_low_FP", "reward_low_FN")
#: Spectral Residual evaluated every k values (1: every value, the paper's own use).
SR_EVERY = (1, 16, 64)


@dataclass
class Components:
    """One file's judges, in file order (0 where a row has no present value)."""

    s: np.ndarray
    q: np.ndarray
    present: np.ndarray
    scores: list[float]  # ContextDetector(art=False, gaps=False, near=False).step's own scores
    x: np.ndarray | None = None   # the values (0 where absent)
    #: Spectral Residual's O of each present value, judged every k values (k → array; NaN: not judged)
    sr: dict[int, np.ndarray] | None = None
    order: list[int] | None = None  # the streaming order of the rows (None: file order)
    #: the ART judge's confidence per row (NaN: not judged), per parameter set (filled on demand)
    art: dict[str, np.ndarray] = field(default_factory=dict)
    #: the CAD-style judge's raw novelty per row, per parameter set (filled on demand)
    cad: dict[str, np.ndarray] = field(default_factory=dict)


def components(path: Path, calibrator: str = "histogram", sr: bool = True) -> Components:
    """Stream one NAB file through a default ``ContextDetector``, recording its judges
    (``calibrator="spot"``: multiview's views calibrated by :class:`SpotTailCalibrator`;
    ``"spot-free"``: the same learning every value, tails never bounded; ``sr=False``: Spectral
    Residual's scores are not computed, the slow part)."""
    from pipeline.anomaly.series_io import read_series

    sf = read_series(path)
    return series_components(sf.times, sf.values, sf.order, calibrator, sr)


def series_components(times: Sequence[float], values: Sequence[float | None],
                      order: Sequence[int] | None = None, calibrator: str = "histogram",
                      sr: bool = True) -> Components:
    """:func:`components` of one series in memory (streamed in ``order``, default as given)."""
    from pipeline.anomaly.context import ContextDetector

    # the judges S and Q; the ART judge is the lever art_direct
    d = ContextDetector(art=False, gaps=False, near=False, **BAGLESS)
    if calibrator in ("spot", "spot-free"):
        from pipeline.anomaly.evt import SpotTailCalibrator
        from pipeline.anomaly.multiview import MultiViewDetector

        free = calibrator == "spot-free"  # every value learnt, no bounded tails (chosen post hoc)
        d.mv = MultiViewDetector.from_state(d.mv.state())  # the Python views: their calibrator swapped
        d.mv.calib = SpotTailCalibrator(d.mv.calib.n_views, math.log(2.0) / math.log(d.mv.calib.growth),
                                        q=0.0 if free else 1e-4, unbounded=free)
    n = len(values)
    s_arr, q_arr, present = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    scores = [0.0] * n
    x_arr = np.zeros(n)
    for i in (range(n) if order is None else order):
        t, x = times[i], values[i]
        if x is not None and x - x == 0.0:
            j = d.mv.peek(t, x)
            s = 0.0 if j is None else j[0]
            q = d.seq.surprise(x, learn=False) - d.judges
            if d.block is not None and d.acc_n + 1 == d.block_len:
                q = max(q, d.block.surprise((d.acc + x) / d.block_len, learn=False) - d.judges)
            s_arr[i], q_arr[i], present[i], x_arr[i] = s, q, True, x
        scores[i] = d.step(t, x).score
    from pipeline.anomaly.spectral import sr_scores

    rows = [i for i in (range(n) if order is None else order) if present[i]]
    srs: dict[int, np.ndarray] | None = {} if sr else None
    for every in SR_EVERY if srs is not None else ():
        srs[every] = np.zeros(n)
        srs[every][rows] = sr_scores(x_arr[rows], every=every)
    return Components(s_arr, q_arr, present, scores, x_arr, srs,
                      None if order is None else list(order))


def rescore(c: Components, lever: str | None = None, alpha: float = 0.3, k: float = 0.5,
            pen: float = 0.477, halflife: float = 1000.0, scale: float = 3.0, alert: float = 0.5,
            refractory: int = 36, q: float = 1e-4, every: int = 1, w: int = 10,
            long: int = 120, unbounded: bool = False, art: dict[str, Any] | None = None,
            gated: bool = False, cad: dict[str, Any] | None = None, window: int = 1,
            report_after: int = 600, replace: str = "", escalate: int = 0) -> list[float]:
    """Scores from the judges, with an optional lever (module docstring); ``lever=None`` is
    exactly ``ContextDetector.step`` (same surprise → score map, same silence after an alert).
    ``pen`` defaults to ``log10 3``, the correction the detector applies to each of its judges;
    ``q`` is SPOT's risk (``unbounded``: no fitted end point), ``every`` how often SR judges,
    ``art`` the ART judge's parameters (``gated``: ART counts only in a block where the
    context's own surprise was positive somewhere), ``cad`` the CAD-style judge's (``window``:
    its raw novelty averaged over that many values before calibration; ``report_after``: values
    before it counts; ``replace``: ``"seq"`` drops the sequence judge on values, ``"both"`` both
    sequence judges, so the lever's judge takes their place; ``"block"``: the 4-value judge only,
    an ablation); ``escalate``: after the silence,
    until that many points from the alert, only a score above the alert's re-alerts (the others
    are halved too). Rows are taken in the streaming order."""
    from pipeline.anomaly.calibrate import TailCalibrator
    from pipeline.anomaly.evt import DriftSpot, Spot

    cal = TailCalibrator(1, halflife)
    spot = Spot(q=q, unbounded=unbounded)
    dspot = DriftSpot()
    g, since, last = 0.0, 1 << 30, 0.0
    hist: list[float] = []
    out = [0.0] * len(c.s)
    a_raw = art_raw(c, art) if lever in ("art", "art_direct", "art_alone") else None
    if lever == "art_alone":
        assert a_raw is not None
        return [float(v) if v == v else 0.0 for v in a_raw]
    rows = np.flatnonzero(c.present) if c.order is None else [i for i in c.order if c.present[i]]
    c_raw, gain = None, 10.0  # gain: the CAD-style judge's raw value × this, calibrated
    q_arr = c.q
    if replace:  # the CAD OSE judge takes the place of the sequence judge on values
        qs, qb = sequence_parts(c)
        q_arr = (np.where(np.isnan(qb), -1e9, qb) if replace == "seq" else qs if replace == "block"
                 else np.full(len(c.s), -1e9))
    if lever in ("ose", "ose_direct", "ose_alone"):
        raw_o, out_o = cad_ose_rows(c, cad)
        if lever == "ose_alone":
            return [float(v) for v in out_o]
        c_raw = raw_o if lever == "ose" else out_o
        lever = "cad" if lever == "ose" else "cad_direct"
    elif lever in ("bocpd", "bocpd_cp"):  # read as the CAD judge is: windowed, calibrated (z-like: gain 1)
        c_raw = bocpd_rows(c, cad, short=lever == "bocpd_cp")
        gain, report_after, lever = (1.0 if lever == "bocpd" else 10.0), 0, "cad"
    elif lever in ("cad", "cad_direct", "cad_alone"):
        from pipeline.anomaly.cad import cad_rest

        c_raw = cad_raw_rows(c, cad)
        if lever != "cad":
            rested = np.zeros(len(c.s))
            rested[rows] = cad_rest(c_raw[rows])
            if lever == "cad_alone":
                return [float(v) for v in rested]
            c_raw = rested
    seen = 0
    for i in rows:
        s, q_ = float(c.s[i]), float(q_arr[i])
        best = s if s > q_ else q_
        if lever in ("sr", "sr_alone"):
            assert c.sr is not None
            o = float(c.sr[every][i])
            if o == o:  # judged at this value
                a = cal.surprise_learn1(o if o > 0 else 0.0) - (pen if lever == "sr" else 0.0)
                best = a if lever == "sr_alone" or a > best else best
            elif lever == "sr_alone":
                best = 0.0
        elif lever == "spot":
            ready = spot.ready
            a = spot.surprise_learn(best)
            if ready:
                best = a
        elif lever == "shift":
            assert c.x is not None
            hist.append(float(c.x[i]))
            if len(hist) > w + long:
                hist.pop(0)
            if len(hist) == w + long:
                old = np.asarray(hist[:long])
                sd = float(old.std())
                diff = abs(sum(hist[long:]) / w - float(old.mean()))
                raw = diff / (sd * math.sqrt(1 / w + 1 / long)) if sd > 0 else (1e3 if diff > 0 else 0.0)
                a = cal.surprise_learn1(raw) - pen
                if a > best:
                    best = a
        elif a_raw is not None:
            o = float(a_raw[i])
            g = best if best > g else g  # the context's largest evidence in this block so far
            if o == o:  # a block ends here
                if lever == "art":
                    a = cal.surprise_learn1(o) - pen
                else:
                    a = (scale * o / (1.0 - o) if o < 1.0 else 300.0) - pen if o > 0 else 0.0
                if a > best and (not gated or g > 0):
                    best = a
                g = 0.0
        elif c_raw is not None:
            r = float(c_raw[i])
            if lever == "cad":
                hist.append(r)
                if len(hist) > window:
                    hist.pop(0)
                a = cal.surprise_learn1(gain * sum(hist) / len(hist)) - pen
            else:
                a = (scale * r / (1.0 - r) if r < 1.0 else 300.0) - pen if r > 0 else 0.0
            seen += 1
            if a > best and seen > report_after:
                best = a
        elif lever in ("dspot", "dspot_alone"):
            assert c.x is not None
            a = dspot.surprise_learn(float(c.x[i])) - (pen if lever == "dspot" else 0.0)
            best = a if lever == "dspot_alone" or a > best else best
        elif lever is not None:
            pos = best if best > 0 else 0.0
            if lever == "ew":
                g += alpha * (pos - g)
            else:
                g = max(0.0, g + pos - k)
            a = cal.surprise_learn1(g) - pen
            if a > best:
                best = a
        full = best / (best + scale) if best > 0 else 0.0
        if since < refractory or (since < escalate and full <= last):
            out[i] = full * 0.5
            since += 1
        else:
            out[i] = full
            since, last = (1, full) if full >= alert else (since + 1, last)
    return out


def _components_all(workers: int, calibrator: str = "histogram",
                    sr: bool = True) -> list[tuple[nab.Labelled, Components]]:
    files = nab.labelled(CORPUS)
    paths = [p for _, p in files]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as ex:
            comps = list(ex.map(components, paths, [calibrator] * len(paths), [sr] * len(paths)))
    else:
        comps = [components(p, calibrator, sr) for p in paths]
    return [(lab, c) for (lab, _), c in zip(files, comps, strict=True)]


def _line(name: str, sc: Sequence[Scored]) -> str:
    rep = evaluate(sc)
    a = " / ".join(f"{rep.overall[p][1]:.2f}" for p in PROFILES)
    lo = " / ".join(f"{rep.logo[p]:.2f}" for p in PROFILES)
    return f"  {name:20s} all 41 {a:23s} leave-one-group-out {lo}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="score levers on top of the context detector (NAB)")
    ap.add_argument("--workers", type=int, default=1, help="extra processes computing the judges")
    ap.add_argument("--checks", action="store_true", help="also the synthetic corpora and normal traffic")
    ap.add_argument("--only", default="", help="comma-separated variants to score (default: all)")
    ap.add_argument("--cache", type=Path, help="pickle of the recorded judges (written if missing)")
    ap.add_argument("--calibrator", choices=("histogram", "spot", "spot-free"), default="histogram",
                    help="multiview's view calibration: the default histograms, SPOT tails (the paper's "
                         "risk 1e-4) or SPOT tails learning every value with no bounded fit")
    ap.add_argument("--groups", action="store_true",
                    help="also each variant's per-group scores (all-41 threshold | held out)")
    args = ap.parse_args(argv)
    chosen = {n: VARIANTS[n] for n in (args.only.split(",") if args.only else VARIANTS)}
    chosen.setdefault("default", {})
    need_sr = any(str(kw.get("lever", "")).startswith("sr") for kw in chosen.values())
    import pickle

    if args.cache is not None and args.cache.exists():
        comps = pickle.loads(args.cache.read_bytes())
    else:
        comps = _components_all(args.workers, args.calibrator, need_sr)
    variants = {name: [Scored(lab, rescore(c, **kw)) for lab, c in comps] for name, kw in chosen.items()}
    if args.cache is not None:  # with the judges computed on demand (ART, CAD), for the next run
        args.cache.write_bytes(pickle.dumps(comps))
    print("standard / reward_low_FP / reward_low_FN")
    for name, sc in variants.items():
        print(_line(name, sc))
    if args.groups:
        from benchmarks.nab_eval import render

        for name, sc in variants.items():
            print(f"  {name}:")
            print("\n".join(render(evaluate(sc))))
    families = {"all variants": list(variants),
                **{fam: ["default", *(n for n in variants if n.split()[0] == fam and "alone" not in n)]
                   for fam in ("ew", "cusum", "spot", "sr", "shift", "dspot", "art", "cad", "ose", "bocpd")}}
    for fam, names in families.items():
        names = [n for n in names if n in variants]
        if len(names) < 2:
            continue
        res = nested_logo({n: variants[n] for n in names})
        vals = " / ".join(f"{res[p][0]:.2f}" for p in PROFILES)
        print(f"  nested leave-one-group-out, {fam} ({len(names)}): {vals}; standard picks "
              + ", ".join(res["standard"][1]))
    thr = evaluate(variants["default"]).overall["standard"][0]
    print("\n".join(render_diagnosis(diagnose(variants["default"], thr), thr)))
    if args.checks:
        from benchmarks.nab_checks import checks

        print("\n".join(checks([n for n in CHECKED if n in variants] + [n for n in variants if n not in CHECKED])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
