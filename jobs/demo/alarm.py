"""Demo stage: put the sample alarms on the sample metrics, replay the sample window, show notifications.

``sample_data/alarms/demo.yaml`` holds an anomaly-band alarm on EC2 CPU, two static-threshold
alarms (Lambda errors, API Gateway 5XX) and a composite of the two. The stage subscribes a JSONL
file (``notify/alarm-notifications.jsonl`` in the lake) to the ``oncall`` topic, puts the alarms
and replays every minute of the window the lake's 1-minute tier holds for those series (from
3 hours after its first minute: CloudWatch's band needs up to 3 hours to appear), recording
history and running the actions. A lake without those series (the stage run on its own) gets a
seeded synthetic copy of them in memory, and the summary says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobs.alarm_job import ReplayReport, put_and_replay
from pipeline.timeutil import iso

if TYPE_CHECKING:
    from jobs.demo import Demo
    from pipeline.alarms.model import MetricRef

NOTIFICATIONS = "notify/alarm-notifications.jsonl"
WARM_UP = timedelta(hours=3)


def _metric_refs(docs: list[dict[str, Any]]) -> list[MetricRef]:
    from pipeline.alarms.model import MetricAlarm
    from pipeline.alarms.validate import parse_alarm

    return [m for a in (parse_alarm(d) for d in docs) if isinstance(a, MetricAlarm) for m in a.metrics]


def _lake_window(lake: Any, refs: list[MetricRef]) -> tuple[datetime, datetime] | None:
    """First and last minute the 1-minute tier holds for any of ``refs``."""
    files = [lake.uri(f) for f in lake.table_files("metrics_1m")]
    if not files:
        return None
    import duckdb

    from pipeline.query.metrics import canonical

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        where = " OR ".join(["(namespace = ? AND metric_name = ? AND dimensions = ?)"] * len(refs))
        params: list[Any] = [files]
        for r in refs:
            params += [r.namespace, r.metric_name, canonical(r.dimension_dict)]
        row = con.execute(f'SELECT min("timestamp"), max("timestamp") FROM read_parquet(?, union_by_name = true) '
                          f"WHERE {where}", params).fetchone()
    finally:
        con.close()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def _synthetic(refs: list[MetricRef]) -> tuple[Any, datetime, datetime]:
    """Seeded 2-day copies of the sample series with one CPU spike and one orders-api outage."""
    import numpy as np

    from pipeline.alarms.source import MemorySource
    from pipeline.timeutil import parse_time

    rng = np.random.default_rng(7)
    t0 = parse_time("2026-11-05T00:00:00Z")
    minutes = 2 * 1440
    times = [t0 + timedelta(minutes=i) for i in range(minutes)]
    hour = np.arange(minutes) / 60
    src = MemorySource()
    for ref in refs:
        if ref.metric_name == "CPUUtilization":
            v = 40 + 25 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 1.5, minutes)
            v[1620:1635] *= 2.6  # night-time spike, 03:00 on day 2
        else:
            v = rng.poisson(0.6, minutes).astype(float)
            v[2250:2270] += 40 if ref.metric_name == "Errors" else 120  # outage, 13:30 on day 2
        src.add(ref, times, v.tolist())
    return src, t0 + WARM_UP, t0 + timedelta(minutes=minutes)


@dataclass
class AlarmStage:
    """The ``alarms`` stage: the replay of the sample window, on the lake's metrics or (``synthetic``)
    on seeded copies of them, with its notifications written to ``notifications``; then the alarms on
    the pipeline's own metrics are put (``pipeline_alarms``)."""

    replay: ReplayReport
    alarms: int
    synthetic: bool
    notifications: str
    pipeline_alarms: list[str]

    def lines(self) -> dict[str, object]:
        res = self.replay.result
        out: dict[str, object] = {
            "data": "synthetic copies of the sample series (no sample metrics in this lake)" if self.synthetic
            else "sample metrics from the lake's 1-minute tier",
            "alarms": f"{self.alarms} from sample_data/alarms/demo.yaml",
            "window": f"{iso(self.replay.start)} .. {iso(self.replay.end)}",
            "evaluations": f"{res.evaluations:,}", "state changes": len(res.transitions),
            "final states": ", ".join(f"{n}={s}" for n, s in sorted(res.final_states.items()))}
        by_alarm: dict[str, list[str]] = {}
        for t in res.transitions:
            by_alarm.setdefault(t.alarm_name, []).append(f"{t.at:%m-%d %H:%M} {t.new_state}")
        for name, items in sorted(by_alarm.items()):
            shown = ", ".join(items[:4]) + (f", … ({len(items)} changes)" if len(items) > 4 else "")
            out[f"  {name}"] = shown
        out["notifications"] = f"{res.notifications} to topic oncall → {self.notifications}"
        first_alarm = next((t for t in res.transitions if t.new_state == "ALARM"), None)
        if first_alarm is not None:
            out["first ALARM"] = f"{first_alarm.alarm_name}: {first_alarm.reason[:100]}…"
        if self.pipeline_alarms:
            out["pipeline alarms"] = f"{', '.join(self.pipeline_alarms)} (for `watchlake run`, on Watchlake/Pipeline)"
        return out


def alarm_stage(demo: Demo) -> AlarmStage:
    from pipeline.alarms.validate import load_documents
    from pipeline.notify import TopicStore
    from pipeline.timeutil import to_utc

    lake = demo.lake
    docs = load_documents(demo.sample_dir / "alarms" / "demo.yaml")
    refs = _metric_refs(docs)
    window = _lake_window(lake, refs)
    source = None
    if window is not None:
        start, end = to_utc(window[0]) + WARM_UP, to_utc(window[1]) + timedelta(minutes=1)
    else:
        source, start, end = _synthetic(refs)

    store = TopicStore(lake)
    store.subscribe("oncall", "file", NOTIFICATIONS)
    store.save()
    rep = put_and_replay(lake, docs, start, end, source=source)
    demo.state["alarms"] = {"transitions": len(rep.result.transitions), "notifications": rep.result.notifications}
    return AlarmStage(rep, len(docs), window is None, lake.uri(NOTIFICATIONS), _put_pipeline_alarms(demo))


def _put_pipeline_alarms(demo: Demo) -> list[str]:
    """The alarms on the pipeline's own metrics (``sample_data/alarms/pipeline.yaml``), put after the
    replay so that ``watchlake run`` on the demo lake watches itself; their names."""
    from pipeline.alarms.store import AlarmStore
    from pipeline.alarms.validate import load_alarms

    path = demo.sample_dir / "alarms" / "pipeline.yaml"
    if not path.exists():
        return []
    alarms = load_alarms(path)
    store = AlarmStore(demo.lake)
    store.put(alarms)
    store.save()
    return [a.name for a in alarms]
