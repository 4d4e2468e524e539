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
    """Replace insights starting in ``[start, end)`` in table ``insights`` with ``insights``, in
    one atomic commit (:mod:`pipeline.lake.replace`); ``(events, files written)``.

    An insight is identified by its ``sharedEventID``; it starts at its earliest event. Every
    partition is rewritten: the Start and End events of one insight may sit in two partitions.
    """
    import pyarrow.compute as pc

    from pipeline.lake import layout
    from pipeline.lake.replace import day_partitions, replace_rows
    from pipeline.schemas import CLOUDTRAIL
    from pipeline.sources.cloudtrail import events_to_table

    events = [e for ins in insights for e in insight_pair(ins)]
    new, rejected = events_to_table(events, "insights")
    if rejected:
        raise WriteError("insights", f"insight event rejected: {rejected[0]}")
    drop: list[pa.Array] = []

    def replaced(old: pa.Table) -> pa.Array | pa.ChunkedArray:
        if not drop:  # first call: under the table's lock, so no other writer changes the ids
            ids = _read_ids(lake)
            starts: dict[str, Any] = {}
            for sid, t in zip(ids["sharedEventID"].to_pylist(), ids["eventTime"].to_pylist(), strict=True):
                starts[sid] = min(t, starts.get(sid, t))
            drop.append(pa.array(sorted(sid for sid, t in starts.items()
                                        if (start is None or t >= to_utc(start)) and (end is None or t < to_utc(end))),
                                 pa.string()))
        return pc.is_in(old["sharedEventID"], value_set=drop[0])

    prefix = layout.table("insights").prefix + "/dt="
    res = replace_rows(
        lake, "insights", new, schema=CLOUDTRAIL, tag=TAG,
        partitions=lambda: [values for values, _ in lake.iter_partitions("insights")], sort_by=["eventTime", "eventID"],
        partition_of=lambda t: day_partitions(prefix, t["eventTime"]),
        where=replaced)
    return len(events), len(res.added)


def _read_ids(lake: Lake) -> pa.Table:
    """``sharedEventID`` and ``eventTime`` of every insight event in the lake."""
    import pyarrow.parquet as pq

    parts = []
    for f in lake.table_files("insights"):
        with lake.fs.open_input_file(lake.path(f)) as fh:
            parts.append(pq.read_table(fh, columns=["sharedEventID", "eventTime"]))
    return pa.concat_tables(parts)
