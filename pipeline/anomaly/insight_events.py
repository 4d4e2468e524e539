"""Insight episodes → CloudTrail Insights events (Start/End pairs) → the lake table ``insights``.

Format (CloudTrail's, see ../shared/reference/aws-semantics.md §3.2): ``eventType``
``AwsCloudTrailInsight``, ``eventCategory`` ``Insight``, no ``userIdentity``; ``insightDetails``
holds ``state`` (Start | End), ``eventSource``, ``eventName``, ``insightType``, ``errorCode`` for
error-rate insights (the top error code), and ``insightContext`` with ``statistics``
(``baseline.average``, ``insight.average`` — at the onset in Start, over the whole insight in
End —, ``insightDuration`` and ``baselineDuration`` in minutes) and ``attributions``. The two
events have their own ``eventID`` and share ``sharedEventID``; all three are UUIDs derived from
the insight's identity (region, account, API, type, start), so re-runs produce the same IDs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.errors import WriteError
from pipeline.timeutil import to_utc

if TYPE_CHECKING:
    from pipeline.anomaly.insights import Insight
    from pipeline.lake import Lake

_NS = uuid.UUID("6f1c3c62-2f0e-4d3c-9b7e-0c7f5e1a9b10")
TAG = "insights"


def insight_pair(ins: Insight) -> list[dict[str, Any]]:
    """The Start and End events of one insight, as CloudTrail writes them."""
    ident = (f"{ins.region}|{ins.account}|{ins.event_source}|{ins.event_name}|"
             f"{ins.insight_type}|{ins.start}")
    shared = str(uuid.uuid5(_NS, ident))
    error_code = None
    if ins.insight_type == "ApiErrorRateInsight":
        errs = next((a for a in ins.attributions if a["attribute"] == "errorCode"), None)
        if errs and errs["insight"]:
            error_code = errs["insight"][0]["value"]
    events = []
    for state, when, avg in (("Start", ins.start_time, ins.onset_avg),
                             ("End", ins.end_time, ins.insight_avg)):
        details: dict[str, Any] = {
            "state": state, "eventSource": ins.event_source, "eventName": ins.event_name,
            "insightType": ins.insight_type,
            "insightContext": {
                "statistics": {
                    "baseline": {"average": round(ins.baseline_avg, 7)},
                    "insight": {"average": round(avg, 4)},
                    "insightDuration": ins.end - ins.start,
                    "baselineDuration": ins.baseline_minutes,
                },
                "attributions": ins.attributions,
            },
        }
        if error_code is not None:
            details["errorCode"] = error_code
        events.append({
            "eventVersion": "1.08",
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "awsRegion": ins.region,
            "eventID": str(uuid.uuid5(_NS, f"{ident}|{state}")),
            "eventType": "AwsCloudTrailInsight",
            "recipientAccountId": ins.account or None,
            "sharedEventID": shared,
            "insightDetails": details,
            "eventCategory": "Insight",
        })
    return events


def write_insights(lake: Lake, insights: list[Insight], start: datetime | None,
                   end: datetime | None) -> tuple[int, int]:
    """Replace insights starting in ``[start, end)`` in table ``insights``; ``(events, files)``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipeline.schemas import CLOUDTRAIL
    from pipeline.sources.cloudtrail import events_to_table

    events = [e for ins in insights for e in insight_pair(ins)]
    new, rejected = events_to_table(events, "insights")
    if rejected:
        raise WriteError("insights", f"insight event rejected: {rejected[0]}")
    old_files = lake.table_files("insights")
    keep: list[pa.Table] = []
    if old_files:
        old = pa.concat_tables([pq.read_table(lake.path(f), filesystem=lake.fs)
                                .select(CLOUDTRAIL.names).cast(CLOUDTRAIL) for f in old_files])
        starts: dict[str, Any] = {}
        for sid, t in zip(old["sharedEventID"].to_pylist(), old["eventTime"].to_pylist(),
                          strict=True):
            starts[sid] = min(t, starts.get(sid, t))
        drop = {sid for sid, t in starts.items()
                if (start is None or t >= to_utc(start)) and (end is None or t < to_utc(end))}
        keep.append(old.filter(pc.invert(pc.is_in(old["sharedEventID"],
                                                  pa.array(sorted(drop), pa.string())))))
    table = pa.concat_tables([*keep, new.select(CLOUDTRAIL.names).cast(CLOUDTRAIL)])
    files = 0
    if table.num_rows:
        days = pc.strftime(table["eventTime"], format="%Y-%m-%d")
        for day in sorted(set(days.to_pylist())):
            lake.write_partition("insights", {"dt": day}, table.filter(pc.equal(days, day)),
                                 tag=TAG, sort_by=["eventTime", "eventID"])
            files += 1
    for f in old_files:
        lake.delete(f)
    return len(events), files
