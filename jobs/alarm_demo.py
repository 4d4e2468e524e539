"""Demo stage: put the sample alarms on the sample metrics, replay the sample window, show notifications.

The definitions in ``sample_data/alarms/demo.yaml`` (a static threshold, an anomaly band and a
composite of both) name an EC2 CPU series. If the lake holds that series the definitions are used
unchanged; otherwise they are re-targeted at the rolled-up series with the most data (the static
threshold then becomes that series' 99th percentile of 1-minute averages), and the summary says so.
With no metrics at all in the lake, a seeded synthetic series with two incidents is used.
Notifications go to the ``oncall`` topic, whose subscriber appends them to
``notify/alarm-notifications.jsonl`` in the lake.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobs.alarm_job import replay_window

if TYPE_CHECKING:
    from jobs.demo import Demo

NOTIFICATIONS = "notify/alarm-notifications.jsonl"


def _retarget(docs: list[dict[str, Any]], ns: str, name: str, dims: dict[str, str], threshold: float) -> None:
    dim_list = [{"Name": k, "Value": v} for k, v in sorted(dims.items())]
    for d in docs:
        if "AlarmRule" in d:
            continue
        if "Metrics" in d:
            for q in d["Metrics"]:
                if "MetricStat" in q:
                    q["MetricStat"]["Metric"] = {"Namespace": ns, "MetricName": name, "Dimensions": dim_list}
        else:
            d.update(Namespace=ns, MetricName=name, Dimensions=dim_list, Threshold=round(threshold, 3))


def _pick_series(lake: Any, wanted: tuple[str, str, dict[str, str]]) -> tuple[Any, datetime, datetime, float] | None:
    """The wanted series if the lake has it, else the one with the most 1-minute rows:
    (info, first minute, last minute, p99 of its 1-minute averages)."""
    from pipeline.query.metrics import list_metrics

    infos = list_metrics(lake)
    files = [lake.uri(f) for f in lake.table_files("metrics_1m")]
    if not infos or not files:
        return None
    import duckdb

    from pipeline.sources.cloudwatch import canonical_dimensions

    con = duckdb.connect()
    try:
        sql = ("SELECT namespace, metric_name, dimensions, min(timestamp), max(timestamp), count(*), "
               "quantile_cont(sum / sample_count, 0.99) FROM read_parquet(?, union_by_name=true) {where} "
               "GROUP BY ALL ORDER BY count(*) DESC, namespace, metric_name LIMIT 1")
        row = con.execute(sql.format(where="WHERE namespace = ? AND metric_name = ? AND dimensions = ?"),
                          [files, wanted[0], wanted[1], canonical_dimensions(wanted[2])]).fetchone()
        if row is None:
            row = con.execute(sql.format(where=""), [files]).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    info = next((i for i in infos if (i.namespace, i.metric_name) == (row[0], row[1])
                 and i.dimensions == json.loads(row[2])), infos[0])
    return info, row[3], row[4], float(row[6])


def alarm_stage(demo: Demo) -> dict[str, Any]:
    from pipeline.alarms.validate import load_documents
    from pipeline.notify import TopicStore
    from pipeline.timeutil import to_utc

    lake = demo.lake
    docs = load_documents(demo.sample_dir / "alarms" / "demo.yaml")
    target = "sample definitions as written"
    source = None
    picked = None
    wanted = ("AWS/EC2", "CPUUtilization", {"InstanceId": "i-0a1b2c3d4e5f60718"})
    try:
        picked = _pick_series(lake, wanted)
    except Exception as e:  # a lake without rollups still gets a demo
        target = f"rollups unreadable ({type(e).__name__}); synthetic series"
    if picked is not None:
        info, first, last, p99 = picked
        start, end = to_utc(first) + timedelta(hours=1), to_utc(last) + timedelta(minutes=1)
        if (info.namespace, info.metric_name, info.dimensions) != wanted:
            docs = copy.deepcopy(docs)
            _retarget(docs, info.namespace, info.metric_name, info.dimensions, p99)
            dims = ",".join(f"{k}={v}" for k, v in sorted(info.dimensions.items()))
            target = f"re-targeted at {info.namespace} {info.metric_name} {{{dims}}} (threshold = p99 = {p99:.3g})"
    else:
        source, start, end = _synthetic(docs)
        target = "synthetic series (no rolled-up metrics in the lake)"

    store = TopicStore(lake)
    store.subscribe("oncall", "file", NOTIFICATIONS)
    store.save()
    res, lines = replay_window(lake, docs, start, end, source=source)
    sent = lake.read_bytes(NOTIFICATIONS).decode().splitlines() if lake.exists(NOTIFICATIONS) else []
    by_alarm: dict[str, list[str]] = {}
    for t in res.transitions:
        by_alarm.setdefault(t.alarm_name, []).append(f"{t.at:%m-%d %H:%M} {t.new_state}")
    out: dict[str, Any] = {"alarms": target, **lines}
    for name, items in sorted(by_alarm.items()):
        shown = ", ".join(items[:4]) + (f", … ({len(items)} changes)" if len(items) > 4 else "")
        out[f"  {name}"] = shown
    out["notifications"] = f"{len(sent)} in {lake.uri(NOTIFICATIONS)}"
    if sent:
        m = json.loads(json.loads(sent[0])["Message"])
        out["first notification"] = f"{m['NewStateValue']} {m['AlarmName']}: {m['NewStateReason'][:90]}"
    demo.state["alarms"] = {"transitions": len(res.transitions), "notifications": len(sent)}
    return out


def _synthetic(docs: list[dict[str, Any]]) -> tuple[Any, datetime, datetime]:
    import numpy as np

    from pipeline.alarms.model import MetricRef
    from pipeline.alarms.source import MemorySource
    from pipeline.timeutil import parse_time

    rng = np.random.default_rng(7)
    t0 = parse_time("2026-11-05T00:00:00Z")
    minutes = 2 * 1440
    values = 40 + 15 * np.sin(np.arange(minutes) * 2 * np.pi / 1440) + rng.normal(0, 2, minutes)
    values[1800:1830] += 50  # incident 1
    values[2500:2520] += 45  # incident 2
    src = MemorySource()
    ref = MetricRef("AWS/EC2", "CPUUtilization", (("InstanceId", "i-0a1b2c3d4e5f60718"),), "Average")
    src.add(ref, [t0 + timedelta(minutes=i) for i in range(minutes)], values.tolist())
    return src, t0 + timedelta(hours=12), t0 + timedelta(minutes=minutes)
