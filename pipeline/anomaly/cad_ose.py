"""CAD OSE's context operator, written from the method's description — a measured reference.

CAD OSE (Contextual Anomaly Detector, Open Source Edition; M. Smirnov & V. Fedorov, NAB 2016).
Unlike :mod:`pipeline.anomaly.cad` (explicit runs of levels) this follows the published
mechanism:

1. **Facts**: a value is scaled to ``0 … 2^bits − 1`` over ``[lo, hi]`` (``int((x − lo) / step)``,
   ``step = (hi − lo) / (2^bits − 1)``) and written in binary; bit ``k`` with value ``v`` is the
   fact ``2k + v`` (3 bits: 3 of 6 facts). A value above ``hi`` has more bits, so new facts; one
   below ``lo`` is the fact ``−1`` with the bits of ``|n|`` (a streaming addition: NAB hands CAD the
   file's range, so it never sees one).
2. **Contexts**: a context joins a *left* semi-context (a set of facts of the previous step: its
   value's facts and the ids of the contexts then active, "neurons", at most ``max_active``) to a
   *right* one (facts of the new value). Each step the full context (previous left group, new
   facts) is stored if new.
3. **Selected / active**: a stored context is *selected* when all its left facts are in the
   previous left group, *active* when, besides, all its right facts are in the new facts (its count
   then grows; the ``max_active`` most counted active contexts are the next step's neuron facts).
4. **Generalisation**: for each stored full context whose right part the new facts only partly
   cover, or whose left part the previous group partly covers (at most ``max_left`` facts), the
   pair of covered parts is a *potential* context; those not yet stored are stored.
5. **Raw anomaly**: ``(1 − active / selected + added / potential) / 2`` (0 when nothing is
   selected for the first term, or nothing is potential for the second); the detector reports it
   only if none of the ``rest`` raw anomalies before reached ``threshold`` (0.75), else 0.

The memory grows with the number of contexts (CAD keeps them all: 28,000–38,000 after 4,000–16,000
NAB values streamed) and each step visits the crossed ones (400–600 values/s streaming, 7,500/s
given the file's range):
this module is a reference for measuring the method, not a streaming option for ``anomalies
detect``.

Measured on NAB's 41 development files (``python -m benchmarks.nab_levers --only …``; standard /
low-FP / low-FN, all 41 | leave-one-group-out; the default ``context``: 72.33 / 63.40 / 77.67 |
71.22 / 62.30 / 76.55):

* given what NAB hands CAD OSE — each file's extremes, and a rest of its probation / 5 — 69.04 /
  65.94 / 72.00 | 67.86 / 64.89 / 70.97 against the published 69.34 / 66.74 / 72.37
  (``tests/benchmarks/test_nab_cad.py``, slow); streaming (the first 300 values' range, rest 150)
  46.95 / 39.28 / 53.13 | 43.77 / 30.34 / 50.57: as with ARTime, most of the score is the range;
* as a fourth judge of ``context`` (``10 · raw`` calibrated like the others, less ``log10 4``):
  72.52 / 62.51 / 78.19 | 71.42 / 61.41 / 77.07; its mean over the last 10 values calibrated
  (HTM's window, as the sequence judge): 73.31 / 63.94 / 78.72 | 72.21 / 62.84 / 77.60 (held out
  above the default on all three); its reported score read directly (``3r / (1 − r)``, less
  ``log10 4``): 54.61 / 31.51 / 66.94 | 48.95 / 24.34 / 63.15; with the reading chosen inside each
  fold among the default and these three (declared together): 70.78 / 61.16 / 76.26, below the
  default (with realTweets held out the other groups pick the per-value reading);
* in place of the sequence judge on values (windowed, less ``log10 3``): 70.39 / 62.21 / 75.61 |
  69.29 / 60.74 / 74.49; per value 69.09 | 67.99; in place of both sequence judges 68.14 | 65.73;
* the windowed judge on generated normal traffic: 0.64 alerts per series per week (as the
  default); synthetic corpora (optimised threshold): 68.05 / 60.78 / 73.30 and 57.80 / 50.12 /
  63.25 (default 64.30 / 57.67 / 70.17 and 55.74 / 49.70 / 61.74).

Not adopted (nor made bounded or fast: no reading holds under the nested measure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BITS, MAX_LEFT, MAX_ACTIVE, THRESHOLD = 3, 7, 15, 0.75
NEURON = 1 << 31  # neuron facts are context ids offset past any value fact


class _Semi:
    """A semi-context: its facts' count, how many the current group covers and which, and (for a
    left one) its contexts: right semi-context → context id."""

    __slots__ = ("size", "crossed", "n", "ctx")

    def __init__(self, size: int) -> None:
        self.size, self.n = size, 0
        self.crossed: list[int] = []
        self.ctx: dict[int, int] = {}


class ContextOperator:
    """The store of semi-contexts and contexts, and the two crossings of a step."""

    def __init__(self, max_left: int = MAX_LEFT) -> None:
        self.max_left = max_left
        self.ids: list[dict[tuple[int, ...], _Semi]] = [{}, {}]
        self.by_fact: list[dict[int, list[_Semi]]] = [{}, {}]
        self.crossed: list[list[_Semi]] = [[], []]
        self.right_of: dict[int, _Semi] = {}       # context id → its right semi-context
        self.counts: list[int] = []                # per context id
        self.zero: list[bool] = []                 # per context id: a full (zero-level) context
        self.new_id = -1                           # the full context stored this step, if new

    def _semi(self, side: int, facts: tuple[int, ...]) -> _Semi:
        sc = self.ids[side].get(facts)
        if sc is None:
            sc = self.ids[side][facts] = _Semi(len(facts))
            for f in facts:
                self.by_fact[side].setdefault(f, []).append(sc)
        return sc

    def store(self, pairs: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], zero: bool = False) -> int:
        """Store the contexts not yet known; the number stored (with ``zero``: one full context,
        1 if it was new — it is then left out of this step's selection — else 0, and it is marked
        full)."""
        added = 0
        for lf, rf in pairs:
            left, right = self._semi(0, lf), self._semi(1, rf)
            cid = left.ctx.get(id(right))
            if cid is None:
                cid = left.ctx[id(right)] = len(self.counts)
                self.right_of[cid] = right
                self.counts.append(0)
                self.zero.append(zero)
                added += 1
                if zero:
                    self.new_id = cid
            elif zero:
                self.zero[cid] = True
        return added

    def cross(self, side: int, facts: Sequence[int]) -> None:
        """Mark, in every semi-context of ``side``, which of ``facts`` it holds."""
        for sc in self.crossed[side]:
            sc.crossed, sc.n = [], 0
        hit: dict[int, _Semi] = {}
        for f in facts:
            for sc in self.by_fact[side].get(f, ()):
                sc.crossed.append(f)
                hit[id(sc)] = sc
        for sc in hit.values():
            sc.n = len(sc.crossed)
        self.crossed[side] = list(hit.values())

    def active(self) -> tuple[list[int], int, list[tuple[tuple[int, ...], tuple[int, ...]]]]:
        """After both crossings: the active context ids, the number selected and the potential
        new contexts (step 3–4 of the module docstring)."""
        act: list[int] = []
        selected = 0
        pot = []
        counts, zero, right_of, new_id, max_left = self.counts, self.zero, self.right_of, self.new_id, self.max_left
        for left in self.crossed[0]:
            full = left.n == left.size
            for cid in left.ctx.values():
                if cid == new_id:
                    continue
                right = right_of[cid]
                if full:
                    selected += 1
                    if right.n == right.size:
                        counts[cid] += 1
                        act.append(cid)
                    elif zero[cid] and right.n > 0:
                        pot.append((tuple(left.crossed), tuple(right.crossed)))
                elif zero[cid] and right.n > 0 and left.n <= max_left:
                    pot.append((tuple(left.crossed), tuple(right.crossed)))
        self.new_id = -1
        return act, selected, pot


class CadOse:
    """CAD OSE over a value range: :meth:`push` one value, get ``(raw, reported)`` anomaly."""

    def __init__(self, lo: float, hi: float, *, rest: int = 150, bits: int = BITS,
                 max_left: int = MAX_LEFT, max_active: int = MAX_ACTIVE,
                 threshold: float = THRESHOLD) -> None:
        self.lo, self.bits = lo, bits
        top = 2 ** bits - 1.0
        self.step = ((hi - lo) or top) / top
        self.rest, self.threshold, self.max_active = int(rest), threshold, max_active
        self.op = ContextOperator(max_left)
        self.left: tuple[int, ...] = ()
        self.recent = [1.0]  # CAD starts as if just alerted: nothing reported in the first ``rest``

    def facts(self, x: float) -> tuple[int, ...]:
        """The value's facts (step 1 of the module docstring)."""
        n = int((x - self.lo) / self.step) if x >= self.lo else -int((self.lo - x) / self.step) - 1
        m = abs(n)
        out = [2 * k + ((m >> k) & 1) for k in range(max(self.bits, m.bit_length()))]
        if n < 0:
            out.append(-1)
        return tuple(sorted(out))

    def push(self, x: float) -> tuple[float, float]:
        """The raw anomaly of ``x`` and the reported one (0 within ``rest`` of a raw ≥ threshold)."""
        op, cur = self.op, self.facts(x)
        uniq = set()
        newflag = 0
        if self.left:
            uniq.add((self.left, cur))
            newflag = op.store([(self.left, cur)], zero=True)
        op.cross(1, cur)
        act, selected, pot = op.active()
        n_uniq = len(set(pot) | uniq)
        share_active = len(act) / selected if selected else 0.0
        act.sort(key=lambda c: (op.counts[c], c))
        neurons = [NEURON + c for c in act[-self.max_active:]]
        self.left = tuple(sorted(set(cur) | set(neurons)))
        added = op.store(pot) if pot else 0
        op.cross(0, self.left)
        added += newflag
        share_added = added / n_uniq if n_uniq else 0.0
        raw = (1.0 - share_active + share_added) / 2.0
        out = raw if max(self.recent) < self.threshold else 0.0
        self.recent.append(raw)
        if len(self.recent) > self.rest:
            del self.recent[0]
        return raw, out


def cad_ose_scores(values: Sequence[float] | np.ndarray, lo: float | None = None,
                   hi: float | None = None, warmup: int = 0, rest: int = 150,
                   **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Raw and reported anomalies of a series; the range ``[lo, hi]`` given (NAB's look-ahead) or
    the first ``warmup`` values' extremes (streaming; those values then score 0 and are learnt)."""
    xs = np.asarray(values, dtype=float)
    raw, out = np.zeros(len(xs)), np.zeros(len(xs))
    w = 0
    if lo is None or hi is None:
        w = max(1, min(warmup, len(xs)))
        lo, hi = float(xs[:w].min()), float(xs[:w].max())
    d = CadOse(lo, hi, rest=rest, **params)
    for x in xs[:w]:  # learnt once their range is known; judged by nothing that follows them
        d.push(float(x))
    for i in range(w, len(xs)):
        raw[i], out[i] = d.push(float(xs[i]))
    return raw, out
