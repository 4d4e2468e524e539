"""The ``context`` detector: multiview's calibrated residual views, sequence novelty and an
adaptive-resonance judge of the series' shapes.

Five judges look at each point before it is learnt:

* :class:`~pipeline.anomaly.multiview.MultiViewDetector`'s views, each calibrated against the
  series' own recent history (decaying histograms, half-life ``halflife`` points) — the surprise
  ``S`` (``−log10`` of a tail share, less multiview's fixed ``log10 5``). By default ``halflife``
  is three half-lives, 600 / 1,000 / 2,000 (:data:`~pipeline.anomaly.bag.BAG`), and ``S`` is the
  median of three multiviews' surprises (:class:`~pipeline.anomaly.bag.MultiViewBag`: which memory
  suits a series is a coin toss the detector cannot make from it); a single number is one multiview
  (1,000: the previous default). With ``bin0`` (the default) their calibrators do not read a value
  in the histogram's bin 0 as unprecedented when the view has only ever seen 0 — multiview's range
  view until a value first leaves the recent range (:mod:`pipeline.anomaly.calibrate`);
  By default only three views are judged: spike, robust shift and range novelty
  (``slow_views=False``); multiview's shift and drift views (EW mean of residuals, short average
  against the slow level) raised more false alerts than they found (benchmarks/anomaly-experiments.md).
  ``slow_views=True`` judges all five (states saved before the choice existed restore that way);
* :class:`~pipeline.anomaly.sequence.SequenceModel`: how rare the last ``window`` points' run of
  Markov surprises is for this series — the surprise ``Q``;
* with ``block`` > 0, the same sequence judge on the means of ``block`` consecutive values (judged
  when a block closes), for slower patterns — off by default since the twentieth session (4 before:
  at NAB's threshold the two sequence judges fired 18 false positives for 3 first detections). The
  sequence surprises are less ``log10 judges`` (3: the judges besides the resonance one, counted
  when the 4-value judge was one of them; ``judges=2`` with ``block=0`` is the first default);
* the adaptive-resonance judge (:class:`~pipeline.anomaly.art.ArtJudge`, ARTime's method: windows
  of downsampled levels matched against the categories of shapes seen so far), whose confidence
  ``o`` in a mismatch is read directly as a surprise ``scale · o / (1 − o)``, less ``log10 4``
  (:data:`ART_PEN`): a shape never seen before (a daily cycle that stops, a drop to a level seen
  long ago) that no residual or sequence view finds rare. It judges once its probation (750
  values, 2.6 days at 5 minutes) is over, compiled after it (:mod:`pipeline.anomaly._art`, bit-equal);
  ``art=False`` turns it off (states saved before it existed restore that way);
* the run judge (:class:`~pipeline.anomaly.runs.RunJudge`, twenty-sixth session): how rare, for
  this series, a run of this many equal values is — a metric stuck at 0 or at its last reading —
  less ``log10 5``; ``runs=False`` turns it off (states saved before it existed restore that way).

The sequence and resonance judges read the values as a sequence and ignore their times, so a
window that spans a gap — a collector down, a metric CloudWatch does not emit while it is zero —
is not a shape the series made: after a value that comes more than :data:`GAP` sampling intervals
after the previous one (a running mean of the intervals, α 0.05, each counted at most 4× the mean),
the next :data:`MUTE` values (the resonance judge's window, 8 blocks of 7) are scored by
multiview's views alone; the judges still learn them (``gaps=False``: the previous default, and how
states saved before it existed restore). Adopted in the eighteenth session under the rule declared
with it (``benchmarks/nab_gaps.py``): NAB 75.92 / 64.98 / 82.00 on all 41, 74.71 / 61.14 / 81.37
held out, picked in every fold; the same on series without gaps.

Each setting was chosen on NAB's 41 development files under leave-one-group-out, the choice itself
checked inside each fold (``benchmarks/anomaly-experiments.md``). The previous defaults, newest first
(each adds to the one before): ``runs=False``; ``art_clock=False``, ``density=False`` (those two the same numbers from 5
minutes up), ``bin0=False``, ``halflife=1000, block=4`` (``BAGLESS``), ``near=3``, ``near=0``,
``gaps=False``, ``art=False``, ``slow_views=True``, ``block=0, judges=2, halflife=3000``.

The bag and the values-only sequence judge were adopted together in the twentieth session under the
rule declared with them (``benchmarks/nab_bagnear.py``): NAB 77.54 / 67.39 / 83.09 on all 41,
76.71 / 65.81 / 82.15 held out (nested: picked in every fold on every profile), within two paired
standard errors of the previous default on 300 fresh synthetic series (better on standard and
low-FP), the same 0.92 false alerts a week on normal traffic. The band is the middle member's: the
previous default's, unchanged. Then ``bin0``, under the same rule (``benchmarks/nab_bin0bag.py``):
77.76 / 67.84 / 83.24 on all 41, 76.94 / 66.26 / 82.30 held out (nested 76.71 / 65.81 / 82.15, the
bag's own: picked in 5 of 6 folds), better on 300 fresh series on every profile, 0.89 false alerts
a week on normal traffic. States saved before either restore without them.

Rarity per 5 minutes (``density``, twenty-fourth session, ``benchmarks/nab_density.py``): every
surprise is a rarity per point, so a series sampled every minute — what ``watchlake run`` scores —
had five times the chances to alert (4.54 false alerts a week on 1-minute normal traffic against
0.89 at 5 minutes). While the gap tracker's running interval is under :data:`PER_SECONDS`, the
largest surprise is less ``log10(PER_SECONDS / interval)``; from 5 minutes up nothing changes (NAB,
the synthetic sets and 5-minute traffic bit for bit). Adopted under the rule declared with it: on
60 labelled 1-minute series at the alert level 0.5, 60.82 / 44.29 / 68.33 against 53.12 / 21.88 /
65.15 (+7.7 ± 2.5 / +22.4 ± 3.4 / +3.2 ± 2.3 paired), 1-minute normal traffic 2.10 false alerts a
week. States saved before it restore without it. ``art_period=300`` (the resonance judge fed each
5-minute bucket's mean on a series sampled at least twice a bucket) brings 1-minute normal
traffic to 0.89 but loses detections there (low-FN −5.3 ± 2.5 on the labelled 1-minute series):
not adopted, an option. Instead (twenty-fifth session, ``art_clock``, :mod:`pipeline.anomaly.art_clock`)
the judge's probation and masks are counted in time, its blocks unchanged: 1-minute normal traffic
1.12 false alerts a week, the labelled 1-minute series no worse (``benchmarks/nab_artclock.py``).

The score is ``C / (C + scale)`` with ``C`` the largest surprise (0.5 at one-in-``10^scale``
rarity). Silence after an alert: once a point scores ≥ ``alert``, the next ``refractory`` points
are reported at half their score, so one incident gives one alert. Silence after a near-alert
(:func:`~pipeline.anomaly.base.after_near`): within ``near`` points (36, as long as the silence
after an alert) after a point scoring ≥ 0.45, a score below ``alert`` is halved, so an episode that
hovers just under the alert level — a slow slide scoring 0.48, 0.485, 0.48, 0.5 — is reported once
at any threshold between 0.45 and 0.5, as it is at 0.5; a score at or above ``alert`` is never
changed by it, so the alerts at the default threshold are exactly those without it (``near=0``:
the previous default, and how states saved before it existed restore; a missing value neither
counts nor starts it). Adopted in the nineteenth session, 3 points long, under the rule declared
with it (``benchmarks/nab_debounce.py``), then 36 under the same rule (``benchmarks/nab_nearspan.py``):
NAB 77.22 / 66.82 / 82.88 on all 41, 76.50 / 65.35 / 82.01 held out, picked in every fold of both;
no worse on 300 fresh synthetic series each time, unchanged on normal traffic. The forecaster learns exactly as
multiview's does (a point multiview flags is not learnt); its band (``expected ∓ k·σ``) is the one
``ANOMALY_DETECTION_BAND`` alarms and the dashboards draw (:mod:`pipeline.anomaly.band`).

State is bounded: three multiviews' ~1,100 numbers each (all ten histograms are kept either way)
plus a sequence model's ~2,100 (two with ``block``), and the resonance judge's at most 256 categories of 32 bounds plus
~300 numbers. (The calibrator's shortcut for common values, exact under multiview's ``log10 5``
correction, can zero a sequence surprise below 0.4, i.e. a score below 0.12 — never an alert.)

Every judge runs compiled when it can (:func:`~pipeline.anomaly.multiview.mv_core`,
:func:`~pipeline.anomaly.sequence.sequence_model`, :func:`~pipeline.anomaly.art.compiled`; the
same numbers and states bit for bit as their Python classes, which ``WATCHLAKE_NATIVE=0`` uses):
~330,000–354,000 points/s per core with the bag (~445,000–480,000 with one multiview), ~51,000 in
Python with one.
The detector only asks multiview for ``judge`` / ``peek`` / ``forecast``, which both forms and the
bag answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pipeline.anomaly.art import ArtJudge, compiled, packed_state, restore_judge
from pipeline.anomaly.art_clock import bucket_input, on_clock
from pipeline.anomaly.bag import BAG, MultiViewBag, restore_multiview
from pipeline.anomaly.base import (
    NEAR,
    NEAR_SPAN,
    VALUE_LIMIT,
    WARMUP_SCORE,
    Score,
    after_near,
    after_refractory,
    make_score,
)
from pipeline.anomaly.gaps import GAP, MUTE, gap_step
from pipeline.anomaly.multiview import MultiViewDetector, mv_core
from pipeline.anomaly.runs import RunJudge
from pipeline.anomaly.sequence import restore_sequence, sequence_model

#: The adaptive-resonance judge's correction: ``log10 4``, one of four judges.
ART_PEN = math.log10(4.0)
#: With ``density``, rarity is counted per this many seconds of the series (5 minutes).
PER_SECONDS = 300.0


class ContextDetector:
    """Streaming detector (``name = "context"``); see the module docstring."""

    name = "context"
    __slots__ = ("scale", "alert", "refractory", "mv", "seq", "block", "block_len", "acc",
                 "acc_n", "judges", "since_alert", "art", "gaps", "gap_last", "gap_dt", "gap_left",
                 "near", "since_near", "density", "art_period", "art_acc", "art_clock", "runs")

    def __init__(self, *, k: float = 2.0, scale: float = 3.0, alert: float = 0.5,
                 refractory: int = 36, warmup: int = 30, bins: int = 12, window: int = 10,
                 report_after: int = 600, block: int = 0, judges: float = 3.0,
                 halflife: float | Sequence[float] = BAG, slow_views: bool = False,
                 art: bool = True, gaps: bool = True, near: int = NEAR_SPAN, bin0: bool = True,
                 density: bool = True, art_period: float = 0.0, art_clock: bool = True,
                 runs: bool = True) -> None:
        self.scale, self.alert, self.refractory = scale, alert, refractory
        params: dict[str, Any] = {"k": k, "scale": scale, "warmup": warmup, "slow_views": slow_views,
                                  "bin0": bin0}
        if isinstance(halflife, (int, float)):
            mv = MultiViewDetector(halflife=halflife, **params)
            self.mv: Any = mv_core(mv) or mv  # compiled when it can be (the same numbers)
        else:
            self.mv = MultiViewBag.of(halflife, **params)
        self.seq = sequence_model(bins=bins, window=window, report_after=report_after)
        block = int(block)
        self.block = (sequence_model(bins=bins, window=window, warmup=300 // block,
                                    report_after=report_after // block) if block > 0 else None)
        self.block_len = block
        self.acc, self.acc_n = 0.0, 0  # sum and count of the block being filled
        self.judges = math.log10(judges)  # the sequence surprises' correction
        self.since_alert = 1 << 30
        self.art: Any = ArtJudge() if art else None
        self.gaps = bool(gaps)
        self.gap_last, self.gap_dt, self.gap_left = math.nan, 0.0, 0  # last time, interval, muted left
        self.near = int(near)  # the near-alert silence's span in points (0: none)
        self.since_near = 1 << 30  # points since the last near-alert
        self.density = bool(density)  # rarity per PER_SECONDS of the series (needs the gap tracker)
        self.art_period = float(art_period)  # > 0: the resonance judge reads means of such buckets
        self.art_acc: list[float] | None = None  # [bucket, sum, count] of the bucket being filled
        self.art_clock = bool(art_clock)  # the resonance judge's probation and masks in time
        self.runs = RunJudge() if runs else None  # how rare a run of equal values is

    def _art(self, x: float, c: float, learn: bool, dt: float) -> float:
        """:meth:`_block` of ``x`` pushed into the adaptive-resonance judge (running interval
        ``dt``), which learns it only with ``learn`` (otherwise a copy does)."""
        judge = self.art if learn else restore_judge(self.art.state())
        if self.art_clock:
            on_clock(judge, dt, PER_SECONDS)
        o = judge.push(x)
        return c if o is None else self._block(o, c, judge if learn else None)

    def _art_input(self, t: float, x: float, dt: float, learn: bool) -> float | None:
        """:func:`~pipeline.anomaly.art_clock.bucket_input` of ``x`` (the ``art_period`` option);
        only ``learn`` keeps the bucket it leaves."""
        y, acc = bucket_input(self.art_acc, t, x, dt, self.art_period)
        if learn:
            self.art_acc = acc
        return y

    def _block(self, o: float, c: float, judge: Any) -> float:
        """``c`` raised to the adaptive-resonance judge's surprise for a closed block of confidence
        ``o`` (``scale · o / (1 − o)``, less :data:`ART_PEN`; 0: no anomaly); ``judge``, the one
        that judged it, is swapped for the compiled one once its probation is over."""
        if o > 0.0:
            a = (self.scale * o / (1.0 - o) if o < 1.0 else 300.0) - ART_PEN
            return a if a > c else c
        if judge is not None:
            self.art = compiled(judge)  # the block may have ended the probation
        return c

    def _judge(self, t: float, x: float, learn: bool) -> Score:
        mv = self.mv
        j = mv.judge(t, x) if learn else mv.peek(t, x)
        s = 0.0 if j is None else j[0]
        q = self.seq.surprise(x, learn=learn) - self.judges
        if self.block is not None:
            if self.acc_n + 1 == self.block_len:  # this point closes a block: judge its mean
                qb = self.block.surprise((self.acc + x) / self.block_len, learn=learn) - self.judges
                if qb > q:
                    q = qb
                if learn:
                    self.acc, self.acc_n = 0.0, 0
            elif learn:
                self.acc += x
                self.acc_n += 1
        muted, gdt = False, self.gap_dt
        if self.gaps:
            muted, last, gdt, left = gap_step(t, self.gap_last, self.gap_dt, self.gap_left)
            if learn:
                self.gap_last, self.gap_dt, self.gap_left = last, gdt, left
        c = s if s > q or muted else q
        if self.art is not None:
            y = self._art_input(t, x, gdt, learn) if self.art_period else x
            raised = c if y is None else self._art(y, c, learn, gdt)
            if not muted:
                c = raised
        if self.runs is not None:
            r = self.runs.surprise(x, learn) - self.runs.pen
            if r > c and not muted:
                c = r
        if self.density and 0.0 < gdt < PER_SECONDS:
            c -= math.log10(PER_SECONDS / gdt)
        full = c / (c + self.scale) if c > 0 else 0.0
        score, since_alert = after_refractory(full, self.since_alert, self.refractory, self.alert)
        if learn:
            self.since_alert = since_alert
        if self.near:
            score, since_near = after_near(score, self.since_near, self.alert, self.near)
            if learn:
                self.since_near = since_near
        if j is None:
            return WARMUP_SCORE._replace(score=score)
        p, sigma = j[1], j[2]
        k = mv.k
        lo = p - k * sigma
        if mv.nonneg and lo < 0:
            lo = 0.0
        return Score(score, p, lo, p + k * sigma, True)

    def score_one(self, t: float, x: float | None) -> Score:
        """Judge ``x`` at ``t`` from earlier points only (does not change the state)."""
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return WARMUP_SCORE
        return self._judge(t, x, False)

    def learn_one(self, t: float, x: float | None) -> None:
        """Fold ``x`` into both judges (the forecaster skips points multiview flags)."""
        if x is not None and -VALUE_LIMIT <= x <= VALUE_LIMIT:
            self._judge(t, x, True)

    def step(self, t: float, x: float | None) -> Score:
        """Score then learn one point (one evaluation of each judge): :meth:`_judge` with
        ``learn``, inlined (the hot path; tests check both give the same scores)."""
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            return WARMUP_SCORE
        mv = self.mv
        j = mv.judge(t, x)  # multiview's surprise, then it learns x
        s = 0.0 if j is None else j[0]
        judges = self.judges
        q = self.seq.surprise(x) - judges
        blk = self.block
        if blk is not None:
            n = self.acc_n + 1
            if n == self.block_len:
                qb = blk.surprise((self.acc + x) / n) - judges
                if qb > q:
                    q = qb
                self.acc, self.acc_n = 0.0, 0
            else:
                self.acc += x
                self.acc_n = n
        muted = False
        if self.gaps:  # :func:`gap_step`, inlined (the hot path; a test checks they agree)
            g = t - self.gap_last
            if g == g:  # not the first value
                dt = self.gap_dt
                if dt > 0.0 and g > GAP * dt:
                    self.gap_left = MUTE
                if g > 0.0:
                    self.gap_dt = g if dt == 0.0 else dt + 0.05 * ((g if g < 4.0 * dt else 4.0 * dt) - dt)
            self.gap_last = t
            if self.gap_left:
                muted = True
                self.gap_left -= 1
        c = s if s > q or muted else q
        art = self.art
        if art is not None:
            y = self._art_input(t, x, self.gap_dt, True) if self.art_period else x
            if self.art_clock and art.__class__ is ArtJudge:  # only in its probation (not compiled yet)
                on_clock(art, self.gap_dt, PER_SECONDS)
            o = None if y is None else art.push(y)
            if o is not None:  # the value closed one of the judge's blocks
                raised = self._block(o, c, art)
                if not muted:
                    c = raised
        runs = self.runs
        if runs is not None:
            r = runs.surprise(x) - runs.pen
            if r > c and not muted:
                c = r
        if self.density and 0.0 < self.gap_dt < PER_SECONDS:  # rarity per 5 minutes, not per point
            c -= math.log10(PER_SECONDS / self.gap_dt)
        full = c / (c + self.scale) if c > 0 else 0.0
        score, self.since_alert = after_refractory(full, self.since_alert, self.refractory, self.alert)
        if self.near:  # :func:`~pipeline.anomaly.base.after_near`, inlined (the hot path; tests agree)
            n = self.since_near + 1
            self.since_near = 0 if score >= NEAR else n
            if n <= self.near and score < self.alert:
                score *= 0.5
        if j is None:
            return WARMUP_SCORE._replace(score=score)
        p, sigma = j[1], j[2]
        k = mv.k
        lo = p - k * sigma
        if lo < 0 and mv.nonneg:
            lo = 0.0
        return make_score(score, p, lo, p + k * sigma)

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of the whole state (fixed size)."""
        return {"scale": self.scale, "alert": self.alert, "refractory": self.refractory,
                "since_alert": self.since_alert, "block_len": self.block_len, "acc": self.acc,
                "acc_n": self.acc_n, "judges": self.judges, "mv": self.mv.state(),
                "seq": self.seq.state(),
                "block": None if self.block is None else self.block.state(),
                "art": None if self.art is None else packed_state(self.art),
                "gaps": ([None if self.gap_last != self.gap_last else self.gap_last, self.gap_dt, self.gap_left]
                         if self.gaps else None),
                "near": [self.since_near, self.near] if self.near else None, "density": self.density,
                "art_period": [self.art_period, self.art_acc] if self.art_period else None,
                "art_clock": self.art_clock, "runs": None if self.runs is None else self.runs.state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ContextDetector:
        """Inverse of :meth:`state`."""
        d = cls.__new__(cls)
        d.scale, d.alert, d.refractory = state["scale"], state["alert"], state["refractory"]
        d.since_alert = state["since_alert"]
        d.block_len, d.acc, d.acc_n = state["block_len"], state["acc"], state["acc_n"]
        d.judges = state["judges"]
        d.mv = restore_multiview(state["mv"])
        d.seq = restore_sequence(state["seq"])
        d.block = None if state["block"] is None else restore_sequence(state["block"])
        art = state.get("art")  # absent from states saved before the judge existed: none
        d.art = None if art is None else restore_judge(art)
        gaps = state.get("gaps")  # absent from states saved before gaps were muted: not muted
        d.gaps = gaps is not None
        last, dt, left = gaps if gaps else (None, 0.0, 0)
        d.gap_last, d.gap_dt, d.gap_left = math.nan if last is None else float(last), float(dt), int(left)
        near = state.get("near")  # absent from states saved before the near-alert silence: none
        since, span = (1 << 30, 0) if near is None else (near, 3) if isinstance(near, int) else near
        d.near, d.since_near = int(span), int(since)  # a bare count: saved while the span was 3
        d.density = bool(state.get("density", False))  # absent from states saved before it: per point
        ap = state.get("art_period")  # absent from states saved before it: every value
        d.art_period, d.art_acc = (0.0, None) if ap is None else (float(ap[0]), ap[1])
        d.art_clock = bool(state.get("art_clock", False))  # absent from states saved before it: off
        runs = state.get("runs")  # absent from states saved before it: none
        d.runs = None if runs is None else RunJudge.from_state(runs)
        return d
