"""How surprising is the *sequence* of recent values: a second-order Markov model on quantised values.

The residual views of :mod:`pipeline.anomaly.multiview` judge one point against a forecast; they
miss anomalies that are made of ordinary values in an unusual order or mix (a rhythm that
changes, a metric that wanders through its usual range the wrong way). This model, in the spirit
of HTM's and CAD OSE's context novelty, learns which value follows which:

* the first ``warmup`` values fix a value grid: ``bins − 2`` equal steps over the 1st–99th
  percentile of the warm-up values widened by 10 % on each side, plus an open bin below and above
  (so a value never seen before lands in an edge bin);
* for each context (the bins of the two previous values) it keeps decaying counts of the next bin
  (each visit of a context multiplies its counts by ``decay``), and scores a value by
  ``−log10 P(bin | context)`` with a 0.1 prior per bin;
* HTM's "anomaly likelihood" step: the mean of the last ``window`` surprises is calibrated against
  its own history (:class:`TailCalibrator`, decaying histogram), so the output is the rarity of the
  recent *run* of surprises for this series, in ``−log10`` units. It is reported only after
  ``report_after`` values (default 600: 300 to fix the grid, 300 to learn the transitions), so a
  young model's every-context-is-new does not raise an alarm.

Memory is fixed: ``bins² × (bins + 2)`` floats of counts (2,016 for 12 bins), the window, and one
64-bin histogram. The warm-up buffer (``warmup`` floats) is dropped once the grid is fixed.

Compiled: :func:`sequence_model` and :func:`restore_sequence` give ``_seq.SeqCore``
(``pipeline/anomaly/_seq.c``) when it is built and ``WATCHLAKE_NATIVE`` ≠ 0 — the same numbers and
the same :meth:`~SequenceModel.state` bit for bit (tests/pipeline/anomaly/test_seq_native.py), so
either carries on from the other's state; :class:`SequenceModel` stays the reference. (It takes
``bins`` 3 to 256, holds values as floats: an int fed to the Python model stays an int in its
warm-up list, the same number.)
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.anomaly.base import restore_slots, slots_state
from pipeline.anomaly.calibrate import TailCalibrator
from pipeline.native import use_native

try:  # compiled present (pipeline/anomaly/_seq.c): the same numbers
    from pipeline.anomaly import _seq  # type: ignore[attr-defined]
except ImportError:  # not built: the Python model
    _seq = None

_LOG10 = math.log(10.0)
_PRIOR = 0.1


class SequenceModel:
    """Second-order Markov surprise on quantised values, calibrated over a short window."""

    __slots__ = ("bins", "warmup", "decay", "window", "warm", "lo", "hi", "prev1", "prev2",
                 "counts", "scale", "total", "recent", "calib", "seen", "report_after")

    def __init__(self, *, bins: int = 12, warmup: int = 300, decay: float = 0.9995,
                 window: int = 10, halflife: float = 3000.0, report_after: int = 600) -> None:
        self.bins, self.warmup, self.decay, self.window = bins, warmup, decay, window
        self.report_after = report_after
        self.warm: list[float] = []
        self.lo = self.hi = math.nan
        self.prev1 = self.prev2 = -1  # bins of the last two values (−1: none yet)
        self.counts = [0.0] * (bins * bins * bins)
        self.scale = [1.0] * (bins * bins)   # effective count = stored × scale (lazy decay)
        self.total = [0.0] * (bins * bins)   # stored total per context
        self.recent: list[float] = []
        self.calib = TailCalibrator(1, halflife)
        self.seen = 0

    def _bin(self, x: float) -> int:
        lo, hi, nb = self.lo, self.hi, self.bins
        if x < lo:
            return 0
        if x >= hi:
            return nb - 1
        b = int((x - lo) / (hi - lo) * (nb - 2)) + 1
        return 1 if b < 1 else (nb - 2 if b > nb - 2 else b)

    def _fix_grid(self) -> None:
        q = sorted(self.warm)
        n = len(q)
        lo, hi = q[int(0.01 * n)], q[int(0.99 * n) - 1]
        span = (hi - lo) or (abs(hi) * 0.1 + 1e-9)
        self.lo, self.hi = lo - 0.1 * span, hi + 0.1 * span
        self.warm = []

    def surprise(self, x: float, *, learn: bool = True) -> float:
        """The calibrated surprise of the window ending with ``x`` (0 in warm-up); with ``learn``
        (the default) ``x`` is then folded into the state, otherwise nothing changes.

        The value's own surprise comes from the counts *before* it is added, so scoring stays
        causal even though scoring and learning are one step."""
        if self.lo != self.lo:  # NaN: grid not fixed yet
            if learn:
                self.warm.append(x)
                if len(self.warm) >= self.warmup:
                    self._fix_grid()
            return self._calibrated(0.0, learn)  # the calibration learns that warm-up is quiet
        nb, lo, hi = self.bins, self.lo, self.hi
        if x < lo:
            b = 0
        elif x >= hi:
            b = nb - 1
        else:  # as _bin, inlined (hot path)
            b = int((x - lo) / (hi - lo) * (nb - 2)) + 1
            b = 1 if b < 1 else (nb - 2 if b > nb - 2 else b)
        s = 0.0
        if self.prev2 >= 0:
            c = self.prev2 * nb + self.prev1
            m = self.scale[c] * self.decay
            base = c * nb
            counts = self.counts
            s = -math.log10((counts[base + b] * m + _PRIOR) / (self.total[c] * m + _PRIOR * nb))
            if learn:
                if m < 1e-100:  # fold the scale into the counts before it underflows
                    for k in range(base, base + nb):
                        counts[k] *= m
                    self.total[c] *= m
                    m = 1.0
                self.scale[c] = m
                counts[base + b] += 1.0 / m
                self.total[c] += 1.0 / m
        if not learn:
            return self._calibrated(s if s > 0.0 else 0.0, False)
        self.prev2, self.prev1 = self.prev1, b
        # _calibrated(s, True), inlined (hot path)
        rec = self.recent
        rec.append(s if s > 0.0 else 0.0)
        if len(rec) > self.window:
            del rec[0]
        out = self.calib.surprise_learn1(sum(rec) / len(rec))
        self.seen += 1
        return out if self.seen > self.report_after else 0.0

    def _calibrated(self, s: float, learn: bool) -> float:
        rec = self.recent
        if learn:
            rec.append(s)
            if len(rec) > self.window:
                rec.pop(0)
            mean = sum(rec) / len(rec)
        else:
            tail = rec[len(rec) - self.window + 1:] if len(rec) >= self.window else rec
            mean = (sum(tail) + s) / (len(tail) + 1)
        ready = self.seen >= self.report_after
        out, b = self.calib.surprise1(mean)
        if learn:
            self.calib.learn1(mean, b)
            self.seen += 1
        return out if ready else 0.0

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (fixed size once warm)."""
        out = slots_state(self, ("calib",))
        out["calib"] = self.calib.state()
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SequenceModel:
        """Inverse of :meth:`state`."""
        m: SequenceModel = restore_slots(cls, state, ("calib",))
        m.calib = TailCalibrator.from_state(state["calib"])
        return m


def sequence_model(**settings: Any) -> Any:
    """``SequenceModel(**settings)``, compiled when it can be (module docstring)."""
    return _seq.SeqCore(**settings) if use_native(_seq) else SequenceModel(**settings)


def restore_sequence(state: dict[str, Any]) -> Any:
    """The model of :meth:`SequenceModel.state` (either's), compiled when it can be."""
    return _seq.SeqCore(state) if use_native(_seq) else SequenceModel.from_state(state)
