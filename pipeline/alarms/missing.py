"""CloudWatch's M-out-of-N decision with missing data, as a pure function (scalar and vectorised).

Input: the *evaluation range* — the last ``R`` period slots before the evaluation time, oldest
first, each GOOD (not breaching), BAD (breaching) or MISSING. CloudWatch fetches more slots than
N; we use ``R = N + 2`` (the documented examples have N = 3 and a range of 5; the general size is
not documented). The procedure (reference/aws-semantics.md §2.5):

1. ≥ N real points in the range → evaluate the newest N real points; TreatMissingData unused.
2. no real point → missing: INSUFFICIENT_DATA; ignore: keep state; breaching: ALARM; notBreaching: OK.
3. 0 < real < N → breaching / notBreaching fill the shortfall (every real point kept, as few
   fills as possible); missing / ignore decide on the real points only: ≥ M breaching → ALARM,
   any good → OK, otherwise the *premature-alarm rule*: with ``missing`` the alarm goes to ALARM
   when the oldest breaching point in the last N slots is at least M periods old (all newer slots
   breaching or missing); else the state is kept (``ignore`` always keeps it).

Both documented tables (M = N = 3 and 2-of-3) are unit tests of :func:`decide` and of
:func:`decide_many`, which must agree everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.alarms.model import ALARM, INSUFFICIENT_DATA, OK

GOOD, BAD, MISSING = 0, 1, 2
RETAIN = "RETAIN"
"""Decision meaning: keep the current state (no transition)."""

STATE_CODES = {OK: 0, ALARM: 1, INSUFFICIENT_DATA: 2}
CODE_STATES = {v: k for k, v in STATE_CODES.items()}
RETAIN_CODE = 3


def evaluation_range(n: int) -> int:
    """Number of slots fetched for an alarm with N evaluation periods (N + 2, see module doc)."""
    return n + 2


@dataclass(frozen=True)
class Decision:
    """What one evaluation decided and why.

    Attributes:
        state: OK, ALARM, INSUFFICIENT_DATA or :data:`RETAIN`.
        used: indexes (into the slots given) of the real points that were evaluated, oldest first.
        fills: number of missing slots filled with ``fill`` (GOOD or BAD).
        rule: ``window`` (≥ N real points), ``fill``, ``real`` (missing/ignore on real points),
            ``premature``, ``no-data`` or ``retain``.
    """

    state: str
    used: tuple[int, ...] = ()
    fills: int = 0
    fill: int | None = None
    rule: str = "window"
    breaching: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def decide(slots: Sequence[int], n: int, m: int, treat_missing: str) -> Decision:
    """Decide the state from the evaluation range (oldest → newest); see the module docstring."""
    real = [i for i, s in enumerate(slots) if s != MISSING]
    if len(real) >= n:
        used = tuple(real[-n:])
        bad = sum(slots[i] == BAD for i in used)
        return Decision(ALARM if bad >= m else OK, used, rule="window", breaching=bad)
    if not real:
        state = {"missing": INSUFFICIENT_DATA, "ignore": RETAIN, "breaching": ALARM,
                 "notBreaching": OK}[treat_missing]
        fills = n if treat_missing in ("breaching", "notBreaching") else 0
        fill = BAD if treat_missing == "breaching" else GOOD if fills else None
        return Decision(state, (), fills, fill, rule="no-data", breaching=n if state == ALARM else 0)
    bad = sum(slots[i] == BAD for i in real)
    if treat_missing in ("breaching", "notBreaching"):
        fills = n - len(real)
        total = bad + (fills if treat_missing == "breaching" else 0)
        fill = BAD if treat_missing == "breaching" else GOOD
        return Decision(ALARM if total >= m else OK, tuple(real), fills, fill, rule="fill", breaching=total)
    if bad >= m:
        return Decision(ALARM, tuple(real), rule="real", breaching=bad)
    if bad < len(real):
        return Decision(OK, tuple(real), rule="real", breaching=bad)
    last_n = list(slots[-n:])
    if treat_missing == "missing" and BAD in last_n:
        first = last_n.index(BAD)
        age = n - first
        if age >= m and all(s in (BAD, MISSING) for s in last_n[first:]):
            offset = len(slots) - n
            used = tuple(i for i in real if i >= offset + first)
            return Decision(ALARM, used, rule="premature", breaching=bad)
    return Decision(RETAIN, tuple(real), rule="retain", breaching=bad)


_TMD_ALL_MISSING = {"missing": STATE_CODES[INSUFFICIENT_DATA], "ignore": RETAIN_CODE,
                    "breaching": STATE_CODES[ALARM], "notBreaching": STATE_CODES[OK]}


def decide_many(slots: np.ndarray, n: int, m: int, treat_missing: str) -> np.ndarray:
    """Vectorised :func:`decide` over a 2-D array (one evaluation per row, slots oldest → newest).

    Returns int8 codes: 0 OK, 1 ALARM, 2 INSUFFICIENT_DATA, 3 retain.
    """
    slots = np.asarray(slots, dtype=np.int8)
    rows, width = slots.shape
    real = slots != MISSING
    bad = slots == BAD
    nreal = real.sum(axis=1)
    out = np.full(rows, RETAIN_CODE, dtype=np.int8)
    # 1. ≥ N real points: newest N real ones
    from_newest = np.cumsum(real[:, ::-1], axis=1)[:, ::-1]  # real points at or after each slot
    in_window = real & (from_newest <= n)
    win_bad = (bad & in_window).sum(axis=1)
    full = nreal >= n
    out[full] = np.where(win_bad[full] >= m, 1, 0)
    # 2. nothing real
    none = nreal == 0
    out[none] = _TMD_ALL_MISSING[treat_missing]
    # 3. some real points, fewer than N
    part = ~full & ~none
    nbad = bad.sum(axis=1)
    if treat_missing in ("breaching", "notBreaching"):
        total = nbad + ((n - nreal) if treat_missing == "breaching" else 0)
        out[part] = np.where(total[part] >= m, 1, 0)
        return out
    alarm = part & (nbad >= m)
    ok = part & ~alarm & (nbad < nreal)
    out[alarm] = 1
    out[ok] = 0
    if treat_missing == "missing":
        rest = part & ~alarm & ~ok  # only breaching real points, fewer than M
        last = bad[:, width - n:]
        has = last.any(axis=1)
        first = np.argmax(last, axis=1)
        age = n - first
        out[rest & has & (age >= m)] = 1
    return out
