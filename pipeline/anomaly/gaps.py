"""The gap tracker of :class:`~pipeline.anomaly.context.ContextDetector`: which values follow a gap.

The sequence and resonance judges read values as a sequence, so after a gap — a collector down, a
metric CloudWatch does not emit while it is zero — a cycle that resumes at another phase reads as
a new pattern. The tracker keeps a running mean of the sampling intervals (α 0.05, each interval
counted at most 4× the mean); a value more than :data:`GAP` intervals after the previous one
starts :data:`MUTE` values that ``context`` scores by multiview's views alone (its judges still
learn them). ``context``'s hot path inlines :func:`gap_step` (a test checks they agree).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pipeline.anomaly.base import VALUE_LIMIT

#: A gap: more than this many running sampling intervals between two values.
GAP = 12.0
#: Values after a gap scored by multiview alone: the resonance judge's window (8 blocks of 7).
MUTE = 56


def gap_step(t: float, last: float, dt: float, left: int) -> tuple[bool, float, float, int]:
    """The gap tracker (last time, running interval, values still muted) after a value at ``t``:
    ``(muted, last, dt, left)`` — whether that value is scored by multiview alone (within
    :data:`MUTE` values of a gap). ``last`` is NaN before the first value."""
    g = t - last
    if g == g:  # not the first value
        if dt > 0.0 and g > GAP * dt:
            left = MUTE
        if g > 0.0:
            dt = g if dt == 0.0 else dt + 0.05 * ((g if g < 4.0 * dt else 4.0 * dt) - dt)
    if left:
        return True, t, dt, left - 1
    return False, t, dt, 0


def muted_rows(times: Sequence[float], values: Sequence[float | None], *, starts: bool = False) -> list[int]:
    """Indices (in stream order) of the values ``context`` scores by multiview alone because they
    follow a gap — :func:`gap_step` over a whole series (missing values neither count
    nor are muted); with ``starts``, only the first value after each gap. For notes and tests."""
    last, dt, left = math.nan, 0.0, 0
    out = []
    for i, (t, x) in enumerate(zip(times, values, strict=True)):
        if x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT:
            continue
        muted, last, dt, left = gap_step(t, last, dt, left)
        if muted and (not starts or left == MUTE - 1):
            out.append(i)
    return out
