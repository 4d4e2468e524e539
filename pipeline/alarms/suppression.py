"""Composite alarm action suppression: ``ActionsSuppressor``, ``…WaitPeriod``, ``…ExtensionPeriod``.

CloudWatch's documented behaviour (API reference, ``CompositeAlarm.ActionsSuppressedBy``), as one
state machine that the live evaluation steps once a minute and a replay steps over every minute:

* a composite whose state changes while its suppressor alarm is in ALARM does not run that state's
  actions: they are held, ``ActionsSuppressedBy`` = ``Alarm``;
* a composite that goes into ALARM while its suppressor is not in ALARM waits up to
  ``WaitPeriod`` seconds for it (``WaitPeriod``): if the suppressor goes into ALARM within it, the
  actions stay held (``Alarm``); otherwise they run when the wait ends;
* when the suppressor leaves ALARM the actions stay held ``ExtensionPeriod`` seconds more
  (``ExtensionPeriod``); if it goes back into ALARM within them, ``Alarm`` again; otherwise they
  run when the extension ends;
* a new transition of the composite replaces what was held (its actions never run) and is judged
  afresh.

Where the documentation is silent, watchlake's reading: held actions run only if the composite is
still in the state whose actions were held, and a state the actions already announced is not
announced again — an ALARM suppressed during a maintenance window that clears before the window
ends produces no ALARM and no OK notification. Without a suppressor every transition runs its
actions at once, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.alarms.missing import CODE_STATES
from pipeline.alarms.model import ALARM, INSUFFICIENT_DATA

if TYPE_CHECKING:
    import numpy as np

    from pipeline.alarms.model import CompositeAlarm
    from pipeline.alarms.store import AlarmState

WAIT, EXTENSION, BY_ALARM = "WaitPeriod", "ExtensionPeriod", "Alarm"


@dataclass
class Held:
    """Actions held for the composite's state ``state`` (``by``: :data:`WAIT`, :data:`EXTENSION`
    or :data:`BY_ALARM`; ``until``: epoch seconds the wait or extension ends, else None)."""

    state: str
    by: str
    until: int | None = None

    @property
    def reason(self) -> str:
        return f"Actions suppressed by {self.by}"


def held_of(st: AlarmState) -> Held | None:
    """What an alarm's stored state says is held."""
    return Held(st.held_state, st.actions_suppressed_by or "", st.held_until) if st.held_state else None


def keep(st: AlarmState, held: Held | None) -> None:
    """Store ``held`` (None: nothing is held) in an alarm's state."""
    st.held_state, st.actions_suppressed_by, st.held_until = (
        (held.state, held.by, held.until) if held is not None else (None, None, None))


def step(held: Held | None, announced: str | None, *, now: int, state: str, transitioned: bool,
         suppressor_in_alarm: bool, wait: int, extension: int) -> tuple[Held | None, bool]:
    """One evaluation of a composite with a suppressor, at epoch second ``now``: its ``state`` (just
    entered when ``transitioned``), the state its actions last ``announced`` and whether the
    suppressor is in ALARM. Returns what is held afterwards and whether ``state``'s actions run now.

    Guarantees: actions run at most once per transition, only while the composite is in the state
    they belong to and never for the state last announced."""
    if transitioned:
        held = None
        if state == announced:
            return None, False
        if suppressor_in_alarm:
            return Held(state, BY_ALARM), False
        if state == ALARM and wait > 0:
            return Held(state, WAIT, now + wait), False
        return None, True
    if held is None:
        return None, False
    if held.state != state or state == announced:
        return None, False
    if suppressor_in_alarm:
        return (held if held.by == BY_ALARM else Held(state, BY_ALARM)), False
    if held.by == BY_ALARM:
        if extension > 0:
            return Held(state, EXTENSION, now + extension), False
        return None, True
    if held.until is not None and now >= held.until:
        return None, True
    return held, False


@dataclass
class Replayed:
    """:func:`replay`'s outcome: transitions whose actions do not run (minute index → the
    ``ActionsSuppressedBy`` that held them, or None when their state was already announced), the
    minutes at which held actions run, and what is held and announced at the end."""

    muted: dict[int, str | None]
    releases: list[int]
    held: Held | None
    announced: str | None


def replay(minutes: list[int], states: list[str], suppressor_in_alarm: list[bool], *, wait: int,
           extension: int) -> Replayed:
    """:func:`step` over every minute of a replay (epoch seconds ``minutes``, the composite's state
    and its suppressor's at each), from a fresh composite in INSUFFICIENT_DATA that has announced
    nothing."""
    held: Held | None = None
    announced: str | None = None
    prev = INSUFFICIENT_DATA  # a replay starts there (Engine.replay)
    out = Replayed({}, [], None, None)
    for i, (now, state, sup) in enumerate(zip(minutes, states, suppressor_in_alarm, strict=True)):
        moved = state != prev
        prev = state
        held, run = step(held, announced, now=now, state=state, transitioned=moved,
                         suppressor_in_alarm=sup, wait=wait, extension=extension)
        if run:
            announced = state
            if not moved:
                out.releases.append(i)
        elif moved:
            out.muted[i] = held.by if held is not None else None
    out.held, out.announced = held, announced
    return out


def replay_codes(comp: CompositeAlarm, minute: np.ndarray,
                 codes: dict[str, tuple[np.ndarray, np.ndarray]]) -> Replayed:
    """:func:`replay` of composite ``comp`` over a replay's ``minute`` grid, from the replay's
    state codes (alarm → its evaluation times and state codes; ``comp``'s own on ``minute``): the
    suppressor's state at each minute is the one of its last evaluation at or before it."""
    import numpy as np

    _, states = codes[comp.name]
    sup = np.zeros(len(minute), dtype=bool)
    if comp.suppressor in codes:
        bounds, sstates = codes[comp.suppressor]
        pos = np.searchsorted(bounds, minute, side="right") - 1
        sup = (pos >= 0) & (sstates[np.maximum(pos, 0)] == 1)
    return replay(minute.tolist(), [CODE_STATES[int(c)] for c in states], sup.tolist(),
                  wait=comp.wait, extension=comp.extension)
