"""Run a detector over a NAB corpus and score it: all files, per group, leave-one-group-out.

    .venv/bin/python -m benchmarks.nab_eval [--detector NAME] [--corpus DIR] [--param k=v ...]

*All files*: one NAB threshold per profile, optimised over the whole corpus (NAB's own protocol).
*Per group*: the group's files scored at that all-files threshold (so a group's number is its share
of the corpus result, not a separately tuned one). *Leave-one-group-out*: for each group, the
threshold is optimised on the other groups and the held-out group is scored at it; the LOGO score
sums the held-out raw scores of every group and normalises once — it is what the detector would
get on a group it was never tuned on. ``artificialNoAnomaly`` has no windows, so its line shows
its false-positive cost instead of a percentage.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import nab

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "nab-corpus"

Files = list[tuple[Sequence[float], Sequence[tuple[int, int]]]]


@dataclass
class Scored:
    """One file's scores beside its labels."""

    label: nab.Labelled
    scores: list[float]


def score_file(path: Path, detector: str, params: dict[str, Any]) -> list[float]:
    """Scores of every row of one file, streamed through a fresh detector."""
    return file_scores(path, detector_scores, detector, params)


def detector_scores(times: Sequence[float], values: Sequence[float | None], detector: str,
                    params: dict[str, Any]) -> list[float]:
    """Scores of one series, in time order, streamed through a fresh ``detector``."""
    from pipeline.anomaly import make_detector

    step = make_detector(detector, **params).step
    return [step(t, v).score for t, v in zip(times, values, strict=True)]


#: The default before the multiview bag (twentieth session): one multiview at calibration half-life
#: 1,000, the sequence judge on 4-value means too, and multiview's calibrator extrapolating bin 0
#: past a largest value of 0. The families declared before the bag build on it.
BAGLESS: dict[str, Any] = {"halflife": 1000.0, "block": 4, "bin0": False, "runs": False}


def bagless_scores(times: Sequence[float], values: Sequence[float | None], **params: Any) -> list[float]:
    """:func:`context_scores` of the default before the bag (:data:`BAGLESS`), ``params`` on top."""
    return context_scores(times, values, **{**BAGLESS, **params})


def context_scores(times: Sequence[float], values: Sequence[float | None], **params: Any) -> list[float]:
    """Scores of one series, in time order, streamed through a fresh ``ContextDetector(**params)``
    (the default detector without ``params``)."""
    return detector_scores(times, values, "context", params)


def python_path_scores(times: Sequence[float], values: Sequence[float | None], *, model: Any = None,
                       calib: Any = None) -> list[float]:
    """The default-before-the-bag's scores (:data:`BAGLESS`) with multiview on its Python path (the
    same numbers as the compiled one), its forecaster ``model`` and/or calibrator ``calib`` replaced
    when given — how the forecaster and calibrator families (all declared before the bag) are scored."""
    from pipeline.anomaly.context import ContextDetector
    from pipeline.anomaly.multiview import MultiViewDetector

    d = ContextDetector(**BAGLESS)
    mv = MultiViewDetector(halflife=1000.0, slow_views=False)  # the default's
    if model is not None:
        mv.model = model
    if calib is not None:
        mv.calib = calib
    d.mv = mv
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


def bag_scores(times: Sequence[float], values: Sequence[float | None], member: Callable[[float], Any]) -> list[float]:
    """Today's default's scores with its bag's members made by ``member(halflife)`` for each of the
    bag's half-lives — multiviews on the Python path (the same numbers as the compiled ones), a
    family's variant swapped into each; the other judges compiled. How the families declared on
    the bag are scored."""
    from pipeline.anomaly.bag import BAG, MultiViewBag
    from pipeline.anomaly.context import ContextDetector

    d = ContextDetector()
    d.mv = MultiViewBag([member(h) for h in BAG])
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


def file_scores(path: Path, fn: Callable[..., list[float]], *args: Any) -> list[float]:
    """Scores of every row of one file, in file order, from ``fn(times, values, *args)`` — a
    scorer of one series in time order (a module-level function: it crosses processes)."""
    from pipeline.anomaly.series_io import read_series

    sf = read_series(path)
    order = list(sf.order)
    got = fn([sf.times[i] for i in order], [sf.values[i] for i in order], *args)
    out = [0.0] * len(sf.values)
    for i, v in zip(order, got, strict=True):
        out[i] = v
    return out


def run_scorer(fn: Callable[..., list[float]], *args: Any, root: Path = CORPUS,
               workers: int = 2) -> list[Scored]:
    """Every file of the corpus through :func:`file_scores` (``workers`` processes)."""
    from concurrent.futures import ProcessPoolExecutor

    files = nab.labelled(root)
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futs = [ex.submit(file_scores, p, fn, *args) for _, p in files]
        return [Scored(lab, f.result()) for (lab, _), f in zip(files, futs, strict=True)]


def run(detector: str = "multiview", params: dict[str, Any] | None = None,
        root: Path = CORPUS, workers: int = 1) -> tuple[list[Scored], float]:
    """Score every file of the corpus; returns the scores and the CPU seconds spent detecting.

    ``workers`` > 1 uses that many extra processes (the CPU time is then the wall time)."""
    files = nab.labelled(root)
    params = params or {}
    t0, c0 = time.perf_counter(), time.process_time()
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = [ex.submit(score_file, p, detector, params) for _, p in files]
            results = [f.result() for f in futs]
        spent = time.perf_counter() - t0
    else:
        results = [score_file(p, detector, params) for _, p in files]
        spent = time.process_time() - c0
    return [Scored(lab, s) for (lab, _), s in zip(files, results, strict=True)], spent


def _files(scored: Sequence[Scored], group: str | None = None, inside: bool = True) -> Files:
    """``(scores, windows)`` of every file, or of the files in (``inside``) / outside ``group``."""
    return [(s.scores, s.label.windows) for s in scored
            if group is None or (s.label.group == group) == inside]


@dataclass
class Report:
    """Scores of one detector on a corpus, per profile."""

    overall: dict[str, tuple[float, float]]          # profile → (threshold, score)
    groups: dict[str, dict[str, float]]              # profile → group → score at that threshold
    logo: dict[str, float]                           # profile → leave-one-group-out score
    logo_groups: dict[str, dict[str, tuple[float, float]]]  # profile → group → (thr, held-out)


def _raw(files: Files, thr: float, prof: nab.Profile) -> tuple[float, float, float]:
    parts = [nab.score_file(s, w, thr, prof) for s, w in files]
    return (sum(p.raw for p in parts), sum(p.null for p in parts), sum(p.perfect for p in parts))


def _pct(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else raw


def evaluate(scored: Sequence[Scored]) -> Report:
    """All-files, per-group and leave-one-group-out scores for every NAB profile."""
    groups = sorted({s.label.group for s in scored})
    rep = Report({}, {}, {}, {})
    for name, prof in nab.PROFILES.items():
        thr, best = nab.optimise_threshold(_files(scored), prof)
        rep.overall[name] = (thr, best)
        rep.groups[name] = {g: _pct(*_raw(_files(scored, g), thr, prof))
                            for g in groups}
        tot = [0.0, 0.0, 0.0]
        rep.logo_groups[name] = {}
        for g in groups:
            t_g, _ = nab.optimise_threshold(_files(scored, g, inside=False), prof)
            r = _raw(_files(scored, g), t_g, prof)
            rep.logo_groups[name][g] = (t_g, _pct(*r))
            tot = [a + b for a, b in zip(tot, r, strict=True)]
        rep.logo[name] = _pct(*tot)
    return rep


def nested_logo(variants: dict[str, Sequence[Scored]]) -> dict[str, tuple[float, list[str]]]:
    """Leave-one-group-out with the *variant* chosen inside each fold too: for each held-out group,
    the variant and threshold that score best on the other groups are picked, then the held-out
    group is scored with them. Returns, per profile, the pooled held-out score and the variant
    picked in each fold (groups in sorted order). This is the honest number for a detector whose
    settings were chosen among ``variants`` by looking at NAB scores."""
    names = list(variants)
    groups = sorted({s.label.group for s in variants[names[0]]})
    out: dict[str, tuple[float, list[str]]] = {}
    for pname, prof in nab.PROFILES.items():
        tot, picks = [0.0, 0.0, 0.0], []
        for g in groups:
            best: tuple[float, str, float] | None = None
            for nm in names:
                thr, val = nab.optimise_threshold(_files(variants[nm], g, inside=False), prof)
                if best is None or val > best[0]:
                    best = (val, nm, thr)
            assert best is not None
            _, nm, thr = best
            picks.append(nm)
            r = _raw(_files(variants[nm], g), thr, prof)
            tot = [a + b for a, b in zip(tot, r, strict=True)]
        out[pname] = (_pct(*tot), picks)
    return out


@dataclass
class Diagnosis:
    """Where a detector's detections fall at one threshold (NAB's standard weights)."""

    per_group: dict[str, tuple[int, int, int]]   # group → (false positives, windows found, missed)
    positions: list[float]          # first detection in each found window, 0 = left edge, 1 = right
    early_rate: float               # share of in-window rows before the first detection scoring ≥ ``early``
    outside_rate: float             # the same share over rows outside every window (after probation)
    missed: list[tuple[str, int, int, int, float]]  # (file, first row, last row, best row, best score)


def diagnose(scored: Sequence[Scored], threshold: float, early: float = 0.25) -> Diagnosis:
    """False positives per group, where detections land inside their windows, whether evidence
    (score ≥ ``early``) rises before the first detection more often than outside windows, and the
    best score inside each missed window. Windows inside the probation period are skipped."""
    prof = nab.PROFILES["standard"]
    per: dict[str, list[int]] = {}
    pos: list[float] = []
    missed: list[tuple[str, int, int, int, float]] = []
    pre = [0, 0]
    out = [0, 0]
    for sf in scored:
        s = np.asarray(sf.scores, dtype=np.float64)
        res = nab.score_file(s, sf.label.windows, threshold, prof)
        win, _ = nab._weights(len(s), sf.label.windows, prof)
        g = per.setdefault(sf.label.group, [0, 0, 0])
        g[0] += res.fp
        g[1] += res.tp
        g[2] += res.fn
        outside = win == -1
        out[0] += int((s[outside] >= early).sum())
        out[1] += int(outside.sum())
        probation = nab.probation_rows(len(s))
        for a, b in sf.label.windows:
            if b < probation:
                continue
            first = next((i for i in res.detections if a <= i <= b), None)
            if first is None:
                best = a + int(np.argmax(s[a:b + 1]))
                missed.append((sf.label.name, a, b, best, float(s[best])))
                continue
            pos.append((first - a) / (b - a + 1))
            pre[0] += int((s[a:first] >= early).sum())
            pre[1] += first - a
    return Diagnosis({k: (v[0], v[1], v[2]) for k, v in sorted(per.items())}, pos,
                     pre[0] / pre[1] if pre[1] else 0.0, out[0] / out[1] if out[1] else 0.0, missed)


def render_diagnosis(d: Diagnosis, threshold: float, early: float = 0.25) -> list[str]:
    """The diagnosis as printable lines."""
    lines = [f"  at threshold {threshold:.4f}: false positives / windows found / missed per group"]
    lines += [f"    {g:22s} {fp:4d} / {tp:3d} / {fn:3d}" for g, (fp, tp, fn) in d.per_group.items()]
    if d.positions:
        q = np.percentile(d.positions, [10, 25, 50, 75, 90])
        lines.append("  first detection in its window (0 = left edge), 10/25/50/75/90 %: "
                     + " ".join(f"{v:.2f}" for v in q))
    lines.append(f"  rows scoring ≥ {early} before the first detection, inside windows: {d.early_rate:.2%}"
                 f"; outside windows: {d.outside_rate:.2%}")
    lines += [f"  missed {n} rows {a}-{b}: best {sc:.3f} at row {i}" for n, a, b, i, sc in d.missed]
    return lines


def render(rep: Report) -> list[str]:
    """The report as printable lines."""
    out = ["  profile          all-41 (threshold)   leave-one-group-out"]
    for name, (thr, best) in rep.overall.items():
        out.append(f"  {name:15s}  {best:6.2f} ({thr:.4f})      {rep.logo[name]:6.2f}")
    out.append("  per group (standard; all-41 threshold | held out, threshold from the other five):")
    for g, v in rep.groups["standard"].items():
        t_g, held = rep.logo_groups["standard"][g]
        unit = "raw FP cost" if g == "artificialNoAnomaly" else ""
        out.append(f"    {g:22s} {v:7.2f} | {held:7.2f} (thr {t_g:.4f}) {unit}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="score a detector on a NAB corpus")
    ap.add_argument("--detector", default="multiview")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--param", action="append", default=[], help="detector parameter k=v")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--diagnose", action="store_true",
                    help="also print false positives per group, detection positions and missed windows")
    args = ap.parse_args(argv)
    params = {k: float(v) for k, v in (p.split("=", 1) for p in args.param)}
    scored, spent = run(args.detector, params, args.corpus, args.workers)
    n = sum(len(s.scores) for s in scored)
    print(f"{args.detector} {params or ''}: {len(scored)} files, {n:,} points, "
          f"{n / spent:,.0f} points/s")
    rep = evaluate(scored)
    print("\n".join(render(rep)))
    if args.diagnose:
        thr = rep.overall["standard"][0]
        print("\n".join(render_diagnosis(diagnose(scored, thr), thr)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
