"""Fuzzy ART with dual vigilance and the window features of the adaptive-resonance judge
(:mod:`pipeline.anomaly.art`, which describes the method): complement coding, the similarity of an
input to each category, the categories' fast learning under two vigilance bounds with a bounded
number of categories, the Haar-plus-levels features of a window, the initial vigilance and an
anomaly's confidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.native import use_native

try:  # compiled present and the judge after its probation (pipeline/anomaly/_art.c): same numbers
    from pipeline.anomaly import _art  # type: ignore[attr-defined]
except ImportError:  # not built: numpy
    _art = None

INITIAL_RHO, MAX_CATEGORIES = 0.80, 256
_R2 = math.sqrt(0.5)


def native() -> bool:
    """Whether the compiled module is used (built, and ``WATCHLAKE_NATIVE`` ≠ 0: :func:`use_native`)."""
    return use_native(_art)


def complement(f: Sequence[float] | np.ndarray) -> np.ndarray:
    """``[f, 1 − f]``: the complement code of features in [0, 1]."""
    a = np.asarray(f, dtype=np.float64)
    return np.concatenate([a, 1.0 - a])


def similarity(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(M, E)`` of complement-coded input ``x`` against each row of categories ``w``:
    ``F = |x ∧ w|₁ / |w|₁``, ``E`` the same over the last feature and its complement (the last
    column of each half), ``M = F³ · E²``. A category whose bounds cover everything (``|w| = 0``)
    matches fully (the ratio's limit)."""
    em = np.minimum(w, x)
    num, den = em.sum(axis=1), w.sum(axis=1)
    f = np.divide(num, den, out=np.ones_like(num), where=den > 0)
    d = x.shape[0] // 2
    ne, de = em[:, d - 1] + em[:, -1], w[:, d - 1] + w[:, -1]
    e = np.divide(ne, de, out=np.ones_like(ne), where=de > 0)
    return f * f * f * (e * e), e  # products, not powers: the compiled judge multiplies alike


def haar(v: Sequence[float]) -> list[float]:
    """The full orthonormal Haar transform of ``2^k`` values: ``[approximation, coarsest detail,
    …, finest details]`` (pairwise ``(a + b)/√2`` and ``(a − b)/√2``, repeated on the sums)."""
    a, out = list(v), list[float]()
    while len(a) > 1:
        s = [(a[i] + a[i + 1]) * _R2 for i in range(0, len(a), 2)]
        out = [(a[i] - a[i + 1]) * _R2 for i in range(0, len(a), 2)] + out
        a = s
    return a + out


def _unit(v: Sequence[float]) -> list[float]:
    lo = min(v)
    span = max(v) - lo
    return [(x - lo) / span for x in v] if span != 0 else [x - lo for x in v]


def window_features(levels: Sequence[float]) -> np.ndarray:
    """The features of a window of levels (module docstring, step 4): the Haar transform of the
    window scaled to [0, 1], scaled to [0, 1], then the levels."""
    return np.array(_unit(haar(_unit(levels))) + list(levels), dtype=np.float64)


def confidence(s: float, e: float, rho_lb: float, rho_ub: float) -> float:
    """An anomaly's score from its best similarity ``s`` and that category's ``E`` (step 7)."""
    s = min(0.999, s)
    return min(1.0, 0.35 * (rho_ub - s) / (1 - s) + 0.65 * (rho_lb - s) / (1 - s) + 1.5 * (1.0 - e))


class DualVigilanceArt:
    """Fuzzy ART with dual vigilance over complement-coded inputs; bounded to ``cap`` categories."""

    __slots__ = ("dim2", "cap", "w", "n", "used", "rho_lb", "rho_ub", "clock")

    def __init__(self, dim2: int, cap: int = MAX_CATEGORIES, rho_lb: float = INITIAL_RHO,
                 rho_ub: float = INITIAL_RHO) -> None:
        self.dim2, self.cap = dim2, cap
        self.w = np.zeros((cap, dim2))
        self.n = 0
        self.used = np.zeros(cap)  # when each category last resonated or was made
        self.rho_lb, self.rho_ub = rho_lb, rho_ub
        self.clock = 0

    def present(self, x: np.ndarray, learn: bool = True) -> tuple[bool, float, float]:
        """``(mismatch, s, E)``: whether no category reaches ``ρ_lb``, the best similarity and its
        ``E``, all judged before ``x`` is learnt; then (``learn``) every category at ``ρ_ub`` or
        above learns ``x``, or ``x`` becomes a new category."""
        self.clock += 1
        if learn and native():  # the same steps compiled, on these arrays
            mismatch, s, e, self.n = _art.present(self.w, self.used, self.n, x, self.rho_lb, self.rho_ub,
                                                  self.clock)
            return mismatch, s, e
        if self.n == 0:
            if learn:
                self._add(x)
            return True, 0.0, 0.0
        w = self.w[:self.n]
        m, e = similarity(x, w)
        j = int(np.argmax(m))
        s, ej = float(m[j]), float(e[j])
        if not learn:
            return s < self.rho_lb, s, ej
        res = m >= self.rho_ub
        if res.any():
            w[res] = np.minimum(w[res], x)
            self.used[:self.n][res] = self.clock
            return False, s, ej
        self._add(x)
        return s < self.rho_lb, s, ej

    def _add(self, x: np.ndarray) -> None:
        if self.n < self.cap:
            k = self.n
            self.n += 1
        else:
            k = int(np.argmin(self.used))
        self.w[k] = x
        self.used[k] = self.clock

    def remap(self, lo: int, hi: int, a: float, b: float) -> None:
        """Map features ``lo..hi−1`` of every category by ``f → a·f + b`` (``a`` > 0): the lower
        bounds directly, the complement halves as ``1 − (a·(1 − c) + b)``."""
        d = self.dim2 // 2
        w = self.w[:self.n]
        w[:, lo:hi] = a * w[:, lo:hi] + b
        w[:, d + lo:d + hi] = 1.0 - (a * (1.0 - w[:, d + lo:d + hi]) + b)

    def state(self, raw: bool = False) -> dict[str, Any]:
        """JSON-serialisable snapshot; ``raw``: the categories and their use times as bytes of
        little-endian float64 instead of lists (what :func:`pipeline.anomaly.art.packed_state`
        encodes)."""
        w, used = self.w[:self.n], self.used[:self.n]
        return {"dim2": self.dim2, "cap": self.cap,
                "w": w.astype("<f8").tobytes() if raw else w.tolist(),
                "used": used.astype("<f8").tobytes() if raw else used.tolist(),
                "rho_lb": self.rho_lb, "rho_ub": self.rho_ub, "clock": self.clock}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> DualVigilanceArt:
        """Inverse of :meth:`state` (either form)."""
        a = cls(s["dim2"], s["cap"], s["rho_lb"], s["rho_ub"])
        if isinstance(s["w"], bytes):
            w = np.frombuffer(s["w"], dtype="<f8").reshape(-1, a.dim2)
            used = np.frombuffer(s["used"], dtype="<f8")
        else:
            w, used = np.asarray(s["w"], dtype=np.float64), np.asarray(s["used"], dtype=np.float64)
        a.n = len(w)
        if a.n:
            a.w[:a.n] = w
            a.used[:a.n] = used
        a.clock = s["clock"]
        return a


def cosine(a: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows of ``a`` (1 on the diagonal; a zero row is as similar
    to ``r`` as ``1 − |r|``)."""
    nrm = np.linalg.norm(a, axis=1)
    safe = np.where(nrm > 0, nrm, 1.0)
    c = (a @ a.T) / np.outer(safe, safe)
    zero = nrm == 0
    if zero.any():
        c[zero, :] = 1.0 - nrm[None, :]
        c[:, zero] = 1.0 - nrm[:, None]
    np.fill_diagonal(c, 1.0)
    return c


#: Up to this many probation windows (the default probation has 100) their typicality is summed
#: from the full cosine matrix, as it always was (the numbers every record was measured with).
#: More — a probation stretched for a series sampled under 5 minutes (:mod:`pipeline.anomaly.art_clock`)
#: — by :func:`typicality_sums`: no ``n × n`` matrix (330 MB at 6,400 windows), and no
#: multi-threaded BLAS product, whose worker threads spin on after it and whose rounding
#: depends on the number of cores.
MATRIX_WINDOWS = 128


def typicality_sums(a: np.ndarray) -> np.ndarray:
    """``cosine(a).sum(axis=0)`` in ``O(n · d)`` time and memory: row ``j``'s sum is
    ``â_j · Σ â_i − â_j · â_j + 1`` over the non-zero rows ``â = a / |a|`` (the diagonal is 1),
    plus ``1 − |a_j|`` per zero row; a zero row's sum is ``n − Σ |a_i|``. Every product and sum is
    an elementwise operation in a fixed order, so the result is the same on every machine (equal
    to the matrix's sums up to rounding)."""
    n, d = a.shape
    sq = np.zeros(n)
    for k in range(d):
        sq += a[:, k] * a[:, k]
    nrm = np.sqrt(sq)
    zero = nrm == 0
    unit = a / np.where(zero, 1.0, nrm)[:, None]
    unit[zero] = 0.0
    total = np.zeros(d)
    for row in unit:  # in row order
        total += row
    dot, self_dot = np.zeros(n), np.zeros(n)
    for k in range(d):
        dot += unit[:, k] * total[k]
        self_dot += unit[:, k] * unit[:, k]
    n_zero = int(zero.sum())
    out = dot - self_dot + 1.0 + n_zero * (1.0 - nrm)
    if n_zero:
        out[zero] = n - float(np.add.accumulate(nrm)[-1])
    return out


def initial_rho(features: np.ndarray, cap: int = MAX_CATEGORIES, rho: float = INITIAL_RHO) -> float:
    """Step 6's initial vigilance from the probation's feature rows."""
    sums = cosine(features).sum(axis=0) if len(features) <= MATRIX_WINDOWS else typicality_sums(features)
    order = np.argsort(sums, kind="stable")
    art = DualVigilanceArt(2 * features.shape[1], cap, rho, rho)
    sims = [art.present(complement(features[i]))[1] for i in order]
    half = len(sims) // 2
    return float(np.mean(sims[max(0, half - 1):])) if sims else rho
