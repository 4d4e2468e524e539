"""Shared helpers for alarm tests: in-memory metrics and timeline extraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.alarms.engine import Engine
from pipeline.alarms.model import MetricRef
from pipeline.alarms.source import MemorySource
from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import parse_alarm

T0 = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
REF = MetricRef("App", "Errors", (("Service", "api"),), "Average")


def minute(i: float) -> datetime:
    return T0 + timedelta(minutes=i)


def alarm_doc(name="a", **kw):
    doc = {"AlarmName": name, "Namespace": "App", "MetricName": "Errors",
           "Dimensions": [{"Name": "Service", "Value": "api"}], "Statistic": "Average", "Period": 60,
           "EvaluationPeriods": 3, "Threshold": 5, "ComparisonOperator": "GreaterThanThreshold"}
    doc.update(kw)
    return doc


def source_with(values: dict[int, float], arrivals: dict[int, float] | None = None, ref=REF) -> MemorySource:
    src = MemorySource()
    mins = sorted(values)
    src.add(ref, [minute(m) for m in mins], [values[m] for m in mins],
            [minute(arrivals.get(m, m + 0.5)) for m in mins] if arrivals is not None else None)
    return src


def engine_with(lake, docs, src) -> Engine:
    store = AlarmStore(lake)
    store.put([parse_alarm(d) for d in docs], at=T0 - timedelta(hours=1))
    store.save()
    return Engine(lake, src)


def live_timeline(eng: Engine, first: int, last: int) -> list[tuple[str, int, str]]:
    """Evaluate minute by minute (as of each minute) → [(alarm, minute, new state)]."""
    out = []
    for m in range(first, last + 1):
        for t in eng.evaluate(minute(m)):
            out.append((t.alarm_name, m, t.new_state))
    return out


def replay_timeline(eng: Engine, first: int, last: int) -> list[tuple[str, int, str]]:
    res = eng.replay(minute(first), minute(last))
    return [(t.alarm_name, int((t.at - T0).total_seconds() // 60), t.new_state) for t in res.transitions]
