"""An Adaptive-Resonance judge in the style of ARTime (M. Hampton, 2022: a distributed dual-vigilance
fuzzy ART over windows of a downsampled series) — the default ``context``
detector's fourth judge (:mod:`pipeline.anomaly.context`), and the ``art`` detector alone.

Written from the method's description; every step is causal and the memory is bounded:

1. **Downsampling**: the values are taken in blocks of ``step`` (= ``probation / (window · 13)``,
   7 for the 750-point probation). A block is represented by its maximum or its minimum, whichever
   lies further from a fast moving average of block means (``m ← (m + mean) / 2``), so a spike
   survives; by its mean when that extreme is within 10 % of the mean.
2. **Normalising**: by the range of the values of the probationary period (the first
   ``probation`` values; ``margin`` > 0 widens it by that many spans on each side, 0 by default;
   ``value_range`` fixes it in advance). A later value outside the range widens it, and everything already learnt
   (categories, the window, the level histogram) is mapped to the new range — exactly, since the
   map is affine and increasing and a fuzzy-ART category is a box of ``min``/``max`` bounds.
3. **Levels**: the value is rounded to one of ``levels`` (80) levels; a value within ``chomp``
   (0.075) of the running median level (a histogram of every level seen) is set to the median, so
   noise around the usual level reads as the usual level.
4. **Features** of the last ``window`` (8) levels: the full Haar transform of the window scaled to
   [0, 1], itself scaled to [0, 1] (the window's *shape*), followed by the ``window`` levels
   themselves (its *height*) — 16 numbers in [0, 1], complement coded to 32 (``[f, 1 − f]``).
5. **Fuzzy ART with dual vigilance** (:class:`DualVigilanceArt`): the similarity of input ``x`` to
   category ``w`` is ``M = (|x ∧ w| / |w|)³ · E²``, with ``E`` the same ratio over the newest
   level and its complement only (does the newest value fall inside the category's range). Every
   category with ``M ≥ ρ_ub`` resonates and learns fast (``w ← x ∧ w``); if none does, a category
   with ``M ≥ ρ_lb`` means the input is a variant of a known pattern (a new category, same cluster);
   if none reaches ``ρ_lb`` the input is a **mismatch** (a new category, a new cluster). At most
   ``max_categories`` are kept: a new one then replaces the one that resonated least recently.
6. **Vigilance**: at the end of the probation both bounds are set to the mean best similarity a
   trial ART (``ρ`` 0.8) reaches over the second half of the probation's windows presented from
   the least typical (lowest summed cosine similarity) to the most. Afterwards ``ρ_ub`` is the
   running mean of the best similarities (at most 0.97), and ``ρ_lb`` is revised every half
   probation and ``1.5 · window`` steps after an anomaly: raised 19 % of the way to the lowest
   recent best similarity if that is above it, otherwise lowered by half the mean recent shortfall
   below ``ρ_ub`` (shortfalls over 0.05, each at most 0.37; at least 0.01), never below the mean
   similarity of past anomalies, never above ``ρ_ub``.
7. **Anomaly**: a mismatch after the probation, unless masked — within ``1.5 · window`` steps of an
   anomaly, after a vigilance revision, or after a mismatch until ``1.5 · window`` steps pass
   without one — where it still counts if its similarity is below 90 % (70 % once the anomaly's
   own mask has passed) of the last anomaly's. Its score is the confidence
   ``0.35 (ρ_ub − s)/(1 − s) + 0.65 (ρ_lb − s)/(1 − s) + 1.5 (1 − E)`` (at most 1; ``s`` the best
   similarity, at most 0.999); every other value scores 0.

A value is judged at the end of its block from the values up to it (scored before the category is
learnt). Memory: ``max_categories × 32`` floats (64 KB at 256), 81 level counts, two windows of
recent similarities (~160 floats) and, during the probation only, its ~107 block values.
Differences from ARTime as published for NAB, where the detector is handed the file's length and
its whole range in advance: the probation is a fixed 750 values (ARTime: 15 % of the file, at most
750) and the range is the probation's, widened as values leave it (ARTime: the file's minimum and
maximum); the categories are capped (ARTime keeps all). Given both in advance (``probation`` 15 %
of the file, ``value_range`` its extremes) the judge alone scores 76.57 / 66.51 / 82.05 on NAB's 41
development files against ARTime's published 76.73 / 67.67 / 82.16 (tests/benchmarks/
test_nab_art.py); with the length alone 66.16 / 58.74 / 71.15, with neither 53.50 / 48.00 / 58.10:
most of ARTime's score on NAB comes from knowing each file's range and length beforehand.

Measured on NAB's 41 development files (``python -m benchmarks.nab_levers --only …``, one
parameter set fixed before scoring; standard / low-FP / low-FN, all 41 | leave-one-group-out; the
``context`` detector without it, the previous default: 72.33 / 63.40 / 77.67 | 71.22 / 62.30 / 76.55):

* alone: 53.50 / 48.00 / 58.10 | 50.59 / 44.19 / 55.05 (``margin`` 1: 61.53 / 54.00 / 65.83 |
  60.75 / 52.42 / 64.92; with the look-aheads above, not streaming
  options: the length 66.16 / 58.74 / 71.15 | 64.16 / 52.88 / 69.13; length and range 76.57 /
  66.51 / 82.05 | 75.48 / 61.51 / 80.94);
* as a fourth judge of ``context``, its confidence calibrated like the others (less ``log10 4``):
  71.93 / 61.62 / 77.80 | 70.87 / 60.15 / 76.31 — below the default;
* its confidence read directly as a surprise (``3c / (1 − c)``, less ``log10 4``): 75.80 / 64.72 /
  81.91 | 74.58 / 60.88 / 81.28 (+4 windows, +36 false positives) — **the default ``context``
  detector's fourth judge since the eleventh session** (``ContextDetector(art=True)``). This reading
  was declared with four others before any was scored (sixth session); chosen inside each fold
  among them and the previous default, it is picked in every fold on standard and low-FN: nested
  74.58 / 59.67 / 81.28 (previous default 71.22 / 62.30 / 76.55). Low-FP held out is lower:
  with realAdExchange held out the other groups' threshold moves to 0.493 and loses a window
  there. The readings chosen after seeing these scores (less 1; the probation's range widened by
  ``margin`` spans, a stand-in for the range look-ahead) and coarser blocks were not adopted
  (benchmarks/anomaly-experiments.md: they fit NAB, not the synthetic corpora or normal traffic).

Speed: after its probation the judge runs compiled (:mod:`pipeline.anomaly._art`, the same
numbers bit for bit, tests/pipeline/anomaly/test_art_native.py): ~900,000 values/s alone;
``context`` with one multiview, its other judges compiled too, ~590,000 values/s per core with it
and ~790,000 without (the default's bag of three multiviews: ~306,000 with it); the Python judge
alone ~170,000 values/s (``WATCHLAKE_NATIVE=0``).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.anomaly.base import VALUE_LIMIT, WARMUP_SCORE, Score, restore_slots, slots_state
from pipeline.anomaly.fuzzy_art import (
    MAX_CATEGORIES,
    DualVigilanceArt,
    _art,
    complement,
    confidence,
    initial_rho,
    native,
    window_features,
)

WINDOW, PROBATION, WINDOWS_PER_PROBATION = 8, 750, 13
LEVELS, CHOMP = 80, 0.075
RHO_UB_CAP = 0.97


class ArtJudge:
    """The streaming pipeline of steps 1–7: :meth:`push` one value, get the block's anomaly
    confidence when the value closes a block (0 during the probation), ``None`` otherwise."""

    __slots__ = ("window", "probation", "step", "trend", "mask", "levels", "chomp", "margin", "art", "n",
                 "b_sum", "b_min", "b_max", "b_n", "ma", "lo", "hi", "buf", "dsi", "medbin",
                 "med_n", "fwin", "ub_sum", "ub_n", "sim_win", "sim_diff", "hist_sum", "hist_n",
                 "hist_last", "last_anom_i", "last_anom_sim", "last_rho_i", "mask_cat", "no_new")

    def __init__(self, *, window: int = WINDOW, probation: int = PROBATION,
                 windows_per_probation: int = WINDOWS_PER_PROBATION, levels: int = LEVELS,
                 chomp: float = CHOMP, max_categories: int = MAX_CATEGORIES,
                 value_range: tuple[float, float] | None = None, margin: float = 0.0) -> None:
        if window < 2 or window & (window - 1):
            raise ValueError(f"window must be a power of two ≥ 2, got {window}")
        self.window, self.probation = int(window), int(probation)
        self.step = max(1, self.probation // (self.window * int(windows_per_probation)))
        self.trend = self.probation // self.step
        if self.trend < 2 * self.window:
            raise ValueError(f"probation {probation} leaves {self.trend} blocks; need ≥ {2 * self.window}")
        self.mask = int(1.5 * self.window)
        self.levels, self.chomp = int(levels), float(chomp)
        self.margin = float(margin)  # the probation's range widened by this many spans each side
        self.art = DualVigilanceArt(4 * self.window, int(max_categories))
        self.n = 0
        self.b_sum, self.b_min, self.b_max, self.b_n = 0.0, math.inf, -math.inf, 0
        self.ma = math.nan
        # a range known in advance (NAB hands its detectors the file's: a reference, not streaming)
        self.lo, self.hi = value_range if value_range is not None else (math.inf, -math.inf)
        self.buf: list[float] | None = []  # the probation's block values (dropped after it)
        self.dsi = 0
        self.medbin = [0] * (self.levels + 1)
        self.med_n = 0
        self.fwin = [0.0] * self.window
        self.ub_sum, self.ub_n = 0.0, 0
        self.sim_win = [1.0] * (self.trend // 2 + 1)
        self.sim_diff = [0.0] * (self.trend + 1)
        self.hist_sum, self.hist_n, self.hist_last = 0.0, 0, 0.0
        self.last_anom_i, self.last_anom_sim, self.last_rho_i = 0, 0.0, 0
        self.mask_cat, self.no_new = False, 0

    @property
    def warm(self) -> bool:
        """True once the probation is over (anomalies can be reported)."""
        return self.buf is None

    def push(self, x: float) -> float | None:
        """Fold value ``x`` into the current block; when it closes the block, judge the block
        (before learning it) and return its confidence (module docstring; 0 if not an anomaly)."""
        self.n += 1
        if self.buf is not None:
            self.lo = x if x < self.lo else self.lo
            self.hi = x if x > self.hi else self.hi
        self.b_sum += x
        self.b_min = x if x < self.b_min else self.b_min
        self.b_max = x if x > self.b_max else self.b_max
        self.b_n += 1
        if self.b_n < self.step:
            return None
        mean, mn, mx = self.b_sum / self.b_n, self.b_min, self.b_max
        self.b_sum, self.b_min, self.b_max, self.b_n = 0.0, math.inf, -math.inf, 0
        ma = mean if self.ma != self.ma else self.ma
        ma = self.ma = (ma + mean) / 2
        ds = mn if abs(mn - ma) > abs(mx - ma) else mx
        if abs(ds - mean) < 0.1 * abs(mean):
            ds = mean
        self.dsi += 1
        if self.buf is not None:
            self.buf.append(ds)
            if self.dsi == self.trend:
                self._start()
            return 0.0
        if mn < self.lo or mx > self.hi:
            self._widen(min(mn, self.lo), max(mx, self.hi))
        fwin = self.fwin
        fwin.pop(0)
        fwin.append(self._level(ds))
        return self._detect(window_features(fwin), self.dsi)

    def _level(self, ds: float) -> float:
        span = self.hi - self.lo
        v = (ds - self.lo) / span if span > 0 else 0.0
        nl = self.levels
        lev = min(nl, max(0, round(v * nl)))
        self.medbin[lev] += 1
        self.med_n += 1
        half, med = self.med_n // 2, 0
        acc = self.medbin[0]
        while acc <= half:  # the median level: the first whose cumulative count passes half
            med += 1
            acc += self.medbin[med]
        v, m = lev / nl, med / nl
        return m if abs(v - m) < self.chomp else v

    def _widen(self, lo: float, hi: float) -> None:
        """Map everything normalised by ``(self.lo, self.hi)`` to ``(lo, hi)`` (step 2)."""
        old = self.hi - self.lo
        new = hi - lo
        a, b = old / new, (self.lo - lo) / new
        self.lo, self.hi = lo, hi
        self.fwin = [a * v + b for v in self.fwin]
        self.art.remap(self.window, 2 * self.window, a, b)
        nl = self.levels
        bins = [0] * (nl + 1)
        for lev, c in enumerate(self.medbin):
            if c:
                bins[min(nl, max(0, round((a * lev / nl + b) * nl)))] += c
        self.medbin = bins

    def _start(self) -> None:
        """End of the probation: normalise and level its blocks, fix the initial vigilance, then
        present its windows in order (none can be an anomaly)."""
        assert self.buf is not None
        pad = self.margin * (self.hi - self.lo)
        self.lo, self.hi = self.lo - pad, self.hi + pad
        levels = [self._level(v) for v in self.buf]
        self.buf = None
        w = self.window
        feats = np.array([window_features(levels[k - w + 1:k + 1]) for k in range(w - 1, len(levels))])
        rho = initial_rho(feats, self.art.cap)
        self.art.rho_lb = self.art.rho_ub = rho
        for k in range(w - 1, len(levels)):
            self._detect(feats[k - w + 1], k + 1)
        self.fwin = levels[-w:]

    def _detect(self, f: np.ndarray, i: int) -> float:
        art, mask = self.art, self.mask
        since = i - self.last_anom_i
        mask_anom = since <= mask
        revise = i > self.trend and (since == mask or i - self.last_rho_i >= self.trend // 2)
        if self.mask_cat and i > self.trend + mask and self.no_new >= mask:
            self.mask_cat = False
        mismatch, s, e = art.present(complement(f))
        self.no_new = 0 if mismatch else self.no_new + 1
        self.ub_sum += s
        self.ub_n += 1
        self.sim_win.pop(0)
        self.sim_win.append(s)
        self.sim_diff.pop(0)
        self.sim_diff.append(art.rho_ub - s)
        if since < mask and self.hist_n and s < self.hist_last:  # an anomaly's lowest similarity
            self.hist_sum += s - self.hist_last
            self.hist_last = s
        out = 0.0
        if i > self.trend and mismatch and (
                not (self.mask_cat or mask_anom) or s < self.last_anom_sim * (0.9 if mask_anom else 0.7)):
            out = confidence(s, e, art.rho_lb, art.rho_ub)
            self.hist_sum += s
            self.hist_n += 1
            self.hist_last = self.last_anom_sim = s
            self.last_anom_i = i
        self.mask_cat = mismatch or self.mask_cat
        if revise:
            self._revise(i)
        return out

    def _revise(self, i: int) -> None:
        """Step 6's vigilance revision."""
        art = self.art
        ub = min(RHO_UB_CAP, self.ub_sum / self.ub_n)
        lb = art.rho_lb
        low = min(self.sim_win)
        if lb <= low:
            lb += (low - lb) * 0.19
        else:
            decr = 0.0
            if i > 2 * self.trend:
                tot, cnt = 0.0, 0  # summed in order (as the compiled judge does; not sum())
                for d in self.sim_diff:
                    if d > 0.05:
                        tot += min(0.37, d)
                        cnt += 1
                if cnt:
                    decr = tot / cnt
            lb -= max(0.01, decr) / 2
            if self.hist_n:
                lb = max(self.hist_sum / self.hist_n, lb)
        art.rho_lb, art.rho_ub = min(ub, lb), ub
        self.last_rho_i = i
        self.mask_cat = True

    def state(self, raw: bool = False) -> dict[str, Any]:
        """JSON-serialisable snapshot (bounded: module docstring); ``raw``: the categories as
        bytes (:meth:`DualVigilanceArt.state`)."""
        out = slots_state(self, ("art",))
        out["art"] = self.art.state(raw)
        return out

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> ArtJudge:
        """Inverse of :meth:`state`."""
        d: ArtJudge = restore_slots(cls, s, ("art",))
        d.art = DualVigilanceArt.from_state(s["art"])
        return d


def compiled(judge: Any) -> Any:
    """``judge`` as the compiled core (``_art.ArtCore``: the same numbers bit for bit, its
    :meth:`~ArtJudge.push` and :meth:`~ArtJudge.state` alike) once its probation is over and the
    module is in use; otherwise ``judge`` itself."""
    if judge.__class__ is ArtJudge and judge.buf is None and native():
        return _art.ArtCore(judge.state())
    return judge


def packed_state(judge: Any) -> dict[str, Any]:
    """``judge.state()`` with the categories and their use times as base64 text of little-endian
    float64 (the same numbers in ~40 % less JSON, encoded and parsed ~10× faster than decimal
    floats: the live anomaly stage checkpoints every series' state each step)."""
    st = judge.state(raw=True)
    st["art"] = {**st["art"], "w": base64.b64encode(st["art"]["w"]).decode("ascii"),
                 "used": base64.b64encode(st["art"]["used"]).decode("ascii")}
    return st


def restore_judge(state: dict[str, Any]) -> Any:
    """A judge from :meth:`ArtJudge.state` (either form), the compiled core's (the same dict) or
    :func:`packed_state`: compiled when :func:`compiled` would make it so."""
    art = state["art"]
    if isinstance(art["w"], str):  # packed
        state = {**state, "art": {**art, "w": base64.b64decode(art["w"]),
                                  "used": base64.b64decode(art["used"])}}
    if state["buf"] is None and native():
        return _art.ArtCore(state)
    return ArtJudge.from_state(state)


def art_scores(values: Sequence[float | None] | np.ndarray, **params: Any) -> np.ndarray:
    """:class:`ArtJudge`'s confidence for every value of a series (NaN where a value does not
    close a block — no judgement — or is missing)."""
    judge: Any = ArtJudge(**params)
    push = judge.push
    out = np.full(len(values), np.nan)
    for i, x in enumerate(values):
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            continue  # missing: skipped, as the detectors do
        r = push(float(x))
        if r is not None:
            out[i] = r
            if r == 0.0:  # the block may have ended the probation
                judge = compiled(judge)
                push = judge.push
    return out


class ArtDetector:
    """Streaming detector (``name = "art"``): :class:`ArtJudge`'s confidence is the score (0 for a
    value that does not close a block; ARTime's own masking is the silence after an alert). No
    forecast: ``expected``/``lower``/``upper`` are None; ``warm`` once the probation is over."""

    name = "art"
    __slots__ = ("judge",)

    def __init__(self, **params: Any) -> None:
        kw: dict[str, Any] = {k: (float(v) if k in ("chomp", "margin") else int(v)) for k, v in params.items()}
        self.judge = ArtJudge(**kw)  # parameters as ArtJudge's (numbers from the CLI may be floats)

    def step(self, t: float, x: float | None) -> Score:
        """Score then learn one value (missing values are skipped)."""
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return WARMUP_SCORE
        judge = self.judge
        r = judge.push(x)
        if r == 0.0:
            self.judge = compiled(judge)  # the block may have ended the probation
        return Score(r or 0.0, None, None, None, judge.warm)

    def score_one(self, t: float, x: float | None) -> Score:
        """Judge ``x`` from earlier values only (does not change the state; costs a state copy)."""
        return ArtDetector.from_state(self.state()).step(t, x)

    def learn_one(self, t: float, x: float | None) -> None:
        """Fold ``x`` in."""
        self.step(t, x)

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot."""
        return {"judge": self.judge.state()}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> ArtDetector:
        """Inverse of :meth:`state`."""
        d = cls.__new__(cls)
        d.judge = restore_judge(s["judge"])
        return d
