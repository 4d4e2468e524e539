"""The alarm jobs: evaluate every alarm once (as of a time), or replay a past range.

``watchlake alarms evaluate [--follow]`` runs :func:`evaluate` on a minute schedule
(:mod:`jobs.follow`); ``alarms replay`` and the demo run :func:`replay`. Both persist state and
history (and run the alarms' actions where asked) before they return a typed report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.alarms.engine import Engine, ReplayResult, Transition
from pipeline.alarms.source import MetricSource
from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import parse_alarm
from pipeline.errors import RuleError

if TYPE_CHECKING:
    from pipeline.lake import Lake


@dataclass
class EvaluateReport:
    """One evaluation of every alarm as of ``at``."""

    at: datetime
    alarms: int = 0
    transitions: list[Transition] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(alarm, message) of evaluations that failed; their state is kept."""
    notifications: int = 0


@dataclass
class ReplayReport:
    """A replay of ``[start, end]``: the engine's result plus what was kept and sent."""

    start: datetime
    end: datetime
    result: ReplayResult
    recorded: bool
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(alarm, message) of alarms that could not be replayed (skipped)."""
    notifications: int = 0
    seconds: float = 0.0


def evaluate(lake: Lake, at: datetime, *, source: MetricSource | None = None) -> EvaluateReport:
    """Evaluate all alarms as of ``at``; transitions are recorded and their actions run before
    this returns."""
    with Engine(lake, source) as eng:
        transitions = eng.evaluate(at)
        return EvaluateReport(at=at, alarms=len(eng.store.alarms), transitions=transitions,
                              errors=list(eng.errors), notifications=eng.notifications)


def replay(lake: Lake, start: datetime, end: datetime, *, names: list[str] | None = None,
           record: bool = False, notify: bool = False, source: MetricSource | None = None,
           progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Evaluate every minute of ``[start, end]`` from a fresh state (see :meth:`Engine.replay`).

    Raises :class:`RuleError` for an empty range or an unknown alarm name, before any work.
    ``record`` keeps the transitions and final states; ``notify`` also runs the actions.
    """
    if end <= start:
        raise RuleError("replay", "--to must be after --from", field="--to")
    t0 = time.perf_counter()
    eng = Engine(lake, source)
    for n in names or []:
        if n not in eng.store.alarms:
            raise RuleError(n, "no such alarm")
    res = eng.replay(start, end, record=record, notify=notify, names=names or None, progress=progress)
    if record or notify:
        eng.save()
    return ReplayReport(start=start, end=end, result=res, recorded=record or notify, errors=list(eng.errors),
                        notifications=eng.notifications, seconds=time.perf_counter() - t0)


def put_and_replay(lake: Lake, docs: list[dict[str, Any]], start: datetime, end: datetime, *,
                   source: MetricSource | None = None, notify: bool = True) -> ReplayReport:
    """Put ``docs`` (PutMetricAlarm/PutCompositeAlarm documents), then replay ``[start, end]``
    recording history (and running actions when ``notify``)."""
    store = AlarmStore(lake)
    store.put([parse_alarm(d) for d in docs])
    store.save()
    return replay(lake, start, end, record=True, notify=notify, source=source)
