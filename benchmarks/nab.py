"""Numenta Anomaly Benchmark (NAB v1.1) scoring, written from NAB's published rules.

A benchmark/test helper (not part of the library): it judges detectors, it does not detect.

For one file: rows ``i < probation`` (``min(⌊0.15·n⌋, 750)``) are not scored. A row is a detection
when its score ≥ the threshold. A window is entered at the first row whose timestamp equals its
start and left at the row whose timestamp equals its end (NAB matches timestamps exactly, so a file
whose clock jumps back is still scored row by row). Inside a window only the best (= earliest)
detection counts, worth ``tp · σ(y) / σ(−1)`` with ``y = −(right − i + 1) / width`` and
``σ(y) = 2 / (1 + e^(5y)) − 1``; a window without a detection costs ``−fn``. A detection outside
every window costs ``fp · σ(y)`` with ``y = |i − prev_right| / (prev_width − 1)`` measured from
the end of the previous window (``σ = −1`` for ``y ≥ 3`` and before the first window). A window
whose rows all lie in the probation period is not scored at all (NAB's null detector gets 0 for
it, yet it counts in the perfect score).

Corpus score: ``100 · (raw − null) / (perfect − null)`` where *null* never detects (``−fn`` per
scored window) and *perfect* is ``tp ×`` the number of labelled windows. NAB's threshold is the one
that maximises the corpus raw score, found by sweeping every distinct score (:func:`sweep`).

>>> round(scaled_sigmoid(-1.0), 4), scaled_sigmoid(0.0), scaled_sigmoid(3.0)
(0.9866, 0.0, -1.0)
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from pipeline.errors import InputError


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("standard", 1.0, 0.11, 1.0),
    Profile("reward_low_FP", 1.0, 0.22, 1.0),
    Profile("reward_low_FN", 1.0, 0.11, 2.0),
)}
_MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0


def scaled_sigmoid(y: float) -> float:
    """NAB's ``2 / (1 + e^(5y)) − 1``, and −1 for ``y ≥ 3`` (far past a window)."""
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n_rows: int) -> int:
    """Rows at the start of a file that are not scored: 15 % of the file, at most 750."""
    return min(int(math.floor(0.15 * n_rows)), 750)


@dataclass
class Labelled:
    """One file ready for scoring: its row count and windows as inclusive row ranges."""

    name: str
    n: int
    windows: list[tuple[int, int]]
    group: str = ""


@dataclass
class FileScore:
    """Outcome of scoring one file at one threshold."""

    raw: float = 0.0
    null: float = 0.0
    perfect: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    detections: list[int] = field(default_factory=list)


def window_rows(timestamps: Sequence[datetime], windows: Sequence[tuple[datetime, datetime]],
                ) -> list[tuple[int, int]]:
    """Each window as ``(first_row, last_row)``, found as NAB does: entered at the first row (after
    the previous window) whose timestamp equals the start, left at the first row equal to the end.
    A window whose edges are not exact timestamps falls back to the rows inside ``[start, end]``."""
    first: dict[datetime, int] = {}
    for i, t in enumerate(timestamps):
        first.setdefault(t, i)
    out: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if start in first and end in first:
            left, right = first[start], first[end]
        else:
            rows = [i for i, t in enumerate(timestamps) if start <= t <= end]
            if not rows:
                continue
            left, right = rows[0], rows[-1]
        out.append((left, right))
    return out


def _weights(n: int, windows: Sequence[tuple[int, int]], profile: Profile,
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the window index (−1 outside, −2 in probation) and the weighted sweep score."""
    win = np.full(n, -1, dtype=np.int64)
    w = np.empty(n, dtype=np.float64)
    prev: tuple[int, int] | None = None
    cursor = 0
    for k, (left, right) in enumerate(windows):
        _outside(w, cursor, left, prev, profile)
        width = right - left + 1
        idx = np.arange(left, right + 1)
        y = -(right - idx + 1) / width
        w[left:right + 1] = profile.tp * (2.0 / (1.0 + np.exp(5.0 * y)) - 1.0) / _MAX_TP
        win[left:right + 1] = k
        prev, cursor = (left, right), right + 1
    _outside(w, cursor, n, prev, profile)
    win[:probation_rows(n)] = -2
    return win, w


def _outside(w: np.ndarray, a: int, b: int, prev: tuple[int, int] | None, profile: Profile) -> None:
    if b <= a:
        return
    if prev is None:
        w[a:b] = -profile.fp
        return
    pl, pr = prev
    denom = float(pr - pl)  # prev_width − 1
    y = np.abs(pr - np.arange(a, b)) / denom if denom > 0 else np.full(b - a, 3.0)
    with np.errstate(over="ignore"):
        s = np.where(y >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(y, 3.0))) - 1.0)
    w[a:b] = profile.fp * s


def score_file(scores: Sequence[float], windows: Sequence[tuple[int, int]], threshold: float,
               profile: Profile = PROFILES["standard"]) -> FileScore:
    """NAB score of one file at one threshold (windows as inclusive row ranges)."""
    n = len(scores)
    win, w = _weights(n, windows, profile)
    s = np.asarray(scores, dtype=np.float64)
    scored = {int(k) for k in win[win >= 0]}
    res = FileScore(null=-profile.fn * len(scored), perfect=profile.tp * len(windows))
    best: dict[int, float] = {}
    for i in np.flatnonzero((s >= threshold) & (win != -2)):
        res.detections.append(int(i))
        k = int(win[i])
        if k < 0:
            res.raw += w[i]
            res.fp += 1
        elif k not in best or w[i] > best[k]:
            best[k] = float(w[i])
    res.tp = len(best)
    res.fn = len(scored) - res.tp
    res.raw += sum(best.values()) - profile.fn * res.fn
    return res


def normalised(results: Sequence[FileScore]) -> float:
    """The corpus score: ``100 · (Σraw − Σnull) / (Σperfect − Σnull)``."""
    raw = sum(r.raw for r in results)
    null = sum(r.null for r in results)
    perfect = sum(r.perfect for r in results)
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def corpus_score(files: Sequence[tuple[Sequence[float], Sequence[tuple[int, int]]]],
                 threshold: float, profile: Profile = PROFILES["standard"]) -> float:
    """Normalised score of several ``(scores, window_rows)`` files at one threshold."""
    return normalised([score_file(s, w, threshold, profile) for s, w in files])


def sweep(files: Sequence[tuple[Sequence[float], Sequence[tuple[int, int]]]],
          profile: Profile = PROFILES["standard"]) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Corpus raw score at every distinct threshold, exactly as NAB's sweeper computes it.

    Returns ``(thresholds, raw, null, perfect)``: ``raw[j]`` is the summed raw score when rows with
    score ≥ ``thresholds[j]`` are detections (``thresholds`` descending; the first entry, +inf,
    detects nothing).
    """
    scores, wins, weights = [], [], []
    n_scored = n_labelled = offset = 0
    for s, windows in files:
        win, w = _weights(len(s), windows, profile)
        keep = win != -2
        win = win[keep]
        n_scored += len(set(win[win >= 0].tolist()))
        n_labelled += len(windows)
        scores.append(np.asarray(s, dtype=np.float64)[keep])
        wins.append(np.where(win >= 0, win + offset, -1))
        weights.append(w[keep])
        offset += len(windows)
    s = np.concatenate(scores) if scores else np.empty(0)
    win = np.concatenate(wins) if wins else np.empty(0, dtype=np.int64)
    w = np.concatenate(weights) if weights else np.empty(0)
    order = np.argsort(-s, kind="stable")
    s, win, w = s[order], win[order], w[order]
    delta = np.where(win < 0, w, 0.0)
    best = np.full(max(offset, 1), -profile.fn)
    for j in np.flatnonzero(win >= 0):  # a window's part = its best detection so far (or −fn)
        k = win[j]
        if w[j] > best[k]:
            delta[j] = w[j] - best[k]
            best[k] = w[j]
    null = -profile.fn * n_scored
    cum = null + np.cumsum(delta)
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True)) if len(s) else np.empty(0, dtype=int)
    thresholds = np.concatenate([[math.inf], s[last]])
    raw = np.concatenate([[null], cum[last]])
    return thresholds, raw, null, profile.tp * n_labelled


def optimise_threshold(files: Sequence[tuple[Sequence[float], Sequence[tuple[int, int]]]],
                       profile: Profile = PROFILES["standard"]) -> tuple[float, float]:
    """``(best_threshold, normalised score)``: NAB's one threshold per detector and profile,
    the distinct score that maximises the corpus raw score (the highest such on ties)."""
    thresholds, raw, null, perfect = sweep(files, profile)
    j = int(np.argmax(raw))
    score = 100.0 * (raw[j] - null) / (perfect - null) if perfect != null else 0.0
    return float(thresholds[j]), float(score)



def paired_difference(base: Sequence[tuple[Sequence[float], Sequence[tuple[int, int]]]],
                      other: Sequence[tuple[Sequence[float], Sequence[tuple[int, int]]]],
                      profile: Profile = PROFILES["standard"],
                      threshold: float | None = None) -> tuple[float, float]:
    """``(difference, standard error)`` of ``other``'s corpus score less ``base``'s, the same files
    each at its own optimised threshold (or both at ``threshold``): the difference is a sum of
    per-file raw-score differences (the normalisation is shared), so its standard error is ``√n ·``
    their sample deviation, scaled alike — the noise of a comparison on these files, threshold
    choice aside."""
    tb = optimise_threshold(base, profile)[0] if threshold is None else threshold
    to = optimise_threshold(other, profile)[0] if threshold is None else threshold
    rb = [score_file(s, w, tb, profile) for s, w in base]
    ro = [score_file(s, w, to, profile) for s, w in other]
    den = sum(r.perfect for r in rb) - sum(r.null for r in rb)
    if den == 0 or len(rb) < 2:
        return 0.0, 0.0
    d = np.array([b.raw - a.raw for a, b in zip(rb, ro, strict=True)]) * 100.0 / den
    return float(d.sum()), float(np.sqrt(len(d)) * d.std(ddof=1))

# -- reading a NAB corpus ----------------------------------------------------------------------
def load_windows(path: str | Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """NAB windows JSON ``{"group/file.csv": [[start, end], ...]}`` keyed by ``group/file.csv``
    (and by bare file name, for files without a group)."""
    try:
        data = json.loads(Path(path).read_text())
        out: dict[str, list[tuple[datetime, datetime]]] = {}
        for k, v in data.items():
            wins = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in v]
            out[k] = wins
            out.setdefault(Path(k).name, wins)
        return out
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"not a NAB windows file: {exc}", path=str(path)) from None


def read_timestamps(path: str | Path, column: int = 0) -> list[str]:
    """The timestamp column (raw text) of a CSV with a header, plain or ``.gz``."""
    p = Path(path)
    with (gzip.open(p, "rt", newline="") if p.suffix == ".gz" else p.open(newline="")) as fh:
        rows = csv.reader(fh)
        next(rows, None)
        return [r[column] for r in rows if r]


def read_column(path: str | Path, name: str) -> list[str]:
    """One named column (raw text) of a CSV with a header, plain or ``.gz``."""
    p = Path(path)
    with (gzip.open(p, "rt", newline="") if p.suffix == ".gz" else p.open(newline="")) as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        if name not in header:
            raise InputError(f"no column {name!r}", path=str(p), line=1, value=header)
        j = header.index(name)
        return [r[j] for r in rows if r]


def corpus_files(root: str | Path) -> list[tuple[str, Path]]:
    """``(group/file.csv, path)`` of every data file of a NAB corpus folder, sorted."""
    base = Path(root) / "data"
    return sorted((f"{p.parent.name}/{p.name}", p) for p in base.glob("*/*.csv"))


def labelled(root: str | Path) -> list[tuple[Labelled, Path]]:
    """Every file of a NAB corpus (``data/<group>/*.csv`` + ``labels/combined_windows.json``)
    with its windows as row ranges."""
    wins = load_windows(Path(root) / "labels" / "combined_windows.json")
    out = []
    for key, path in corpus_files(root):
        ts = [datetime.fromisoformat(t) for t in read_timestamps(path)]
        rows = window_rows(ts, wins.get(key, []))
        out.append((Labelled(key, len(ts), rows, key.split("/")[0]), path))
    return out
