"""The resonance judge on the series' clock: ``ContextDetector(art_clock=True)`` (and the
``art_period`` option's 5-minute buckets, :func:`bucket_input`).

:class:`~pipeline.anomaly.art.ArtJudge` counts everything in values: its probation is 750 values
and its masks (the silences after a mismatch or an anomaly, the vigilance revision after one) are
``1.5 · window`` = 12 blocks of 7 values. At 5 minutes those are 2.6 days and 7 hours; on a series
sampled every minute, 12.5 hours — less than a day, so the probation never sees a whole day — and
84 minutes. :func:`reclock` makes them times: once :data:`CLOCK_AT` values have been seen (still in
the probation), a judge on a series whose running sampling interval is ``dt`` < 5 minutes is
given a probation and masks :func:`clock_factor` ``= round(300 s / dt)`` times as long in values,
its blocks unchanged (7 values, so a spike inside a block is still seen at full resolution). It is
then exactly ``ArtJudge(probation=750·f, windows_per_probation=13·f)`` with masks of ``12·f``
blocks: the same numbers, compiled or not, once the probation is over. From 5 minutes up
nothing changes. Memory grows with ``f`` (at most :data:`MAX_FACTOR`): 54 + 108 recent
similarities per factor, ~650 more numbers at 1 minute; the stretched probation's windows are
ranked without their ``n × n`` cosine matrix (:func:`~pipeline.anomaly.fuzzy_art.typicality_sums`).
Cost: once per series, a probation 3,750 values long run in Python and a sort of 528 windows
(``bench_anomaly`` at 1 minute: ~296,000 points/s per core against ~378,000 without the clock).

The default since the twenty-fifth session, adopted under the rule declared with it
(:mod:`benchmarks.nab_artclock`): NAB and every 5-minute check unchanged; on 60 new labelled
1-minute series at the alert level 0.5, 57.89 / 50.11 / 62.84 against 56.58 / 43.23 / 63.17; on
1-minute normal traffic 1.12 false alerts per model per week against 2.10.
"""

from __future__ import annotations

from typing import Any

from pipeline.anomaly.art import PROBATION, ArtJudge

#: The value (in the judge's own count) at which the clock is read: before the default probation
#: ends (749 values: 107 blocks of 7), late enough for the running interval to be settled.
CLOCK_AT = 700
#: The largest factor: a series sampled every 5 s or faster is clocked as one sampled every 5 s.
MAX_FACTOR = 60


def clock_factor(dt: float, period: float = 300.0) -> int:
    """``period / dt`` to the nearest integer (halves up) for a running interval ``0 < dt < period``, at most
    :data:`MAX_FACTOR`; 1 otherwise (no interval yet, or sampled every ``period`` or sparser)."""
    if not 0.0 < dt < period:
        return 1
    return min(MAX_FACTOR, int(period / dt + 0.5))


def reclock(judge: Any, f: int) -> None:
    """Stretch a default judge still in its probation (having closed fewer than its 107 blocks)
    to a probation and masks ``f`` times as long in values (module docstring); ``f`` ≤ 1 leaves
    it as it is. Raises ``ValueError`` for a judge past its probation or already stretched."""
    if f <= 1:
        return
    if judge.__class__ is not ArtJudge or judge.buf is None or judge.probation != PROBATION \
            or judge.dsi >= judge.trend:
        raise ValueError("only a default resonance judge still in its probation can be reclocked")
    judge.probation = PROBATION * f
    judge.trend = judge.probation // judge.step
    judge.mask *= f
    judge.sim_win = [1.0] * (judge.trend // 2 + 1)
    judge.sim_diff = [0.0] * (judge.trend + 1)


def on_clock(judge: Any, dt: float, period: float = 300.0) -> None:
    """:func:`reclock` ``judge`` by the interval ``dt`` if it is at :data:`CLOCK_AT` values in a
    default probation (the one moment it is read); otherwise nothing."""
    if judge.__class__ is ArtJudge and judge.n == CLOCK_AT and judge.probation == PROBATION:
        reclock(judge, clock_factor(dt, period))


def bucket_input(acc: list[float] | None, t: float, x: float, dt: float,
                 period: float) -> tuple[float | None, list[float] | None]:
    """What the resonance judge reads for ``x`` at ``t`` under ``ContextDetector(art_period=period)``
    (not the default: :mod:`benchmarks.nab_artrate`), and the bucket ``[bucket, sum, count]`` being
    filled after it, from ``acc`` before it. On a series sampled at least twice a period (running
    interval ``dt``), the mean of the previous UTC-aligned bucket once the first value of a new one
    arrives, and None while a bucket fills; otherwise (or ``period`` 0) ``x`` itself, and a
    half-filled bucket is dropped."""
    if not (period > 0.0 and 0.0 < dt <= 0.5 * period):
        return x, None
    b = t // period
    if acc is None or acc[0] == b:
        return None, ([b, x, 1.0] if acc is None else [b, acc[1] + x, acc[2] + 1.0])
    return acc[1] / acc[2], [b, x, 1.0]
