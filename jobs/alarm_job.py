"""The alarm job: evaluate every alarm once (as of a time) or replay a window, with actions.

``watchlake alarms evaluate`` / ``replay`` do the same interactively; this module is the entry for
schedulers and the demo. Both functions persist state and history before returning.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.alarms.engine import Engine, ReplayResult, Transition
from pipeline.alarms.source import MetricSource
from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import parse_alarm
from pipeline.timeutil import iso

if TYPE_CHECKING:
    from pipeline.lake import Lake


def evaluate_once(lake: Lake, at: datetime, *, source: MetricSource | None = None) -> list[Transition]:
    """Evaluate all alarms as of ``at``; transitions are recorded and their actions run."""
    with Engine(lake, source) as eng:
        return eng.evaluate(at)


def replay_window(lake: Lake, docs: list[dict[str, Any]], start: datetime, end: datetime, *,
                  source: MetricSource | None = None, notify: bool = True) -> tuple[ReplayResult, dict[str, Any]]:
    """Put ``docs`` (PutMetricAlarm/PutCompositeAlarm documents), replay ``[start, end]`` recording
    history (and running actions when ``notify``); returns the result and summary lines."""
    store = AlarmStore(lake)
    store.put([parse_alarm(d) for d in docs])
    store.save()
    eng = Engine(lake, source)
    res = eng.replay(start, end, record=True, notify=notify)
    eng.save()
    lines = {"window": f"{iso(start)} .. {iso(end)}", "evaluations": f"{res.evaluations:,}",
             "state changes": len(res.transitions),
             "final states": ", ".join(f"{n}={s.state_value}" for n, s in sorted(eng.store.states.items()))}
    return res, lines
