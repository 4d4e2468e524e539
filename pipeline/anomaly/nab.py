"""Numenta Anomaly Benchmark (NAB) scoring, implemented from its published description.

For one file: rows ``i < probation`` (15 % of the rows, at most 750) are not scored. A row is a
detection when its score ≥ the threshold. Inside an anomaly window only the earliest detection
counts, worth ``tp · σ(y) / σ(−1)`` where ``y = −(right − i + 1) / width`` runs from −1 at the
window's left edge to about 0 at its right edge and ``σ(y) = 2 / (1 + e^(5y)) − 1``. A window
without a detection costs ``−fn``. A detection outside every window costs ``fp · σ(y)`` with
``y = |i − prev_right| / (prev_width − 1)`` measured from the end of the previous window
(``σ`` is −1 beyond 3 widths and before the first window). Scores are summed over a corpus and
normalised: ``100 · (raw − null) / (perfect − null)`` where *null* never detects
(``−fn`` per window) and *perfect* detects every window at its left edge (``+tp`` each).

>>> round(scaled_sigmoid(-1.0), 4), scaled_sigmoid(0.0), scaled_sigmoid(3.5)
(0.9866, 0.0, -1.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

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


def scaled_sigmoid(y: float) -> float:
    """NAB's ``2 / (1 + e^(5y)) − 1``, and −1 for y > 3 (far past a window)."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n_rows: int) -> int:
    """Rows at the start of a file that are not scored: 15 % of the file, at most 750."""
    return min(int(math.floor(0.15 * n_rows)), 750)


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
    """Each window as ``(first_row, last_row)`` (rows whose timestamp lies in [start, end])."""
    out: list[tuple[int, int]] = []
    for start, end in windows:
        rows = [i for i, t in enumerate(timestamps) if start <= t <= end]
        if rows:
            out.append((rows[0], rows[-1]))
    return sorted(out)


def score_file(scores: Sequence[float], windows: Sequence[tuple[int, int]], threshold: float,
               profile: Profile = PROFILES["standard"], *, rows: Sequence[int] | None = None,
               n: int | None = None) -> FileScore:
    """NAB score of one file given per-row ``scores`` and windows as row ranges (inclusive).

    ``rows`` optionally restricts the rows looked at (ascending; an optimisation for sweeps:
    rows with a score of 0 can never be detections); ``n`` overrides the row count.
    """
    n = len(scores) if n is None else n
    probation = probation_rows(n)
    max_tp = scaled_sigmoid(-1.0)
    res = FileScore(null=-profile.fn * len(windows), perfect=profile.tp * len(windows))
    detected = [False] * len(windows)
    w = 0  # index of the first window whose right edge is ≥ i
    for i in (range(probation, n) if rows is None else rows):
        if i < probation or scores[i] < threshold:
            continue
        res.detections.append(i)
        while w < len(windows) and windows[w][1] < i:
            w += 1
        if w < len(windows) and windows[w][0] <= i:
            if not detected[w]:
                left, right = windows[w]
                y = -(right - i + 1) / (right - left + 1)
                res.raw += profile.tp * scaled_sigmoid(y) / max_tp
                res.tp += 1
                detected[w] = True
            continue
        if w == 0:
            unweighted = -1.0
        else:
            pl, pr = windows[w - 1]
            width = pr - pl + 1
            unweighted = scaled_sigmoid(abs(pr - i) / (width - 1)) if width > 1 else -1.0
        res.raw += profile.fp * unweighted
        res.fp += 1
    res.fn = detected.count(False)
    res.raw -= profile.fn * res.fn
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


def optimise_threshold(files: Sequence[tuple[Sequence[float], Sequence[tuple[int, int]]]],
                       profile: Profile = PROFILES["standard"], top: int = 3000,
                       ) -> tuple[float, float]:
    """``(best_threshold, best_score)`` as NAB tunes one threshold per detector on a corpus.

    Candidates are the ``top`` highest distinct scored values (plus a coarse grid below them),
    which is where any useful threshold lies.
    """
    pos = sorted({s for f, _ in files for s in f[probation_rows(len(f)):] if s > 0},
                 reverse=True)
    cands = pos[:top] + pos[top::max(1, len(pos) // 200)]
    sparse = [([i for i, s in enumerate(f) if s > 0], f, w) for f, w in files]
    best = (math.inf, normalised([score_file(f, w, math.inf, profile, rows=[]) for f, w in files]))
    for thr in cands:
        sc = normalised([score_file(f, w, thr, profile, rows=idx) for idx, f, w in sparse])
        if sc > best[1]:
            best = (thr, sc)
    return best


def load_windows(path: str | Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """NAB ``windows.json``: ``{"group/file.csv": [[start, end], ...]}`` keyed by file *name*."""
    try:
        data = json.loads(Path(path).read_text())
        return {Path(k).name: [(datetime.fromisoformat(a), datetime.fromisoformat(b))
                               for a, b in v] for k, v in data.items()}
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"not a NAB windows file: {exc}", path=str(path)) from None
