"""Demo stage "investigate": saved investigations, a Logs Insights query and "what changed" on the
demo lake.

Runs three saved investigations (console sign-ins without MFA, new access keys and users, security
configuration changes), one Logs Insights query (AccessDenied by principal and IP), and — when the
alarms stage left an alarm that went to ALARM on an EC2/Lambda/… metric — "what changed before
it". When the lake has no CloudTrail yet (no ingest stage ran), the sample CloudTrail is loaded
first through the loader (exactly once: the ledger makes a later ingest a no-op).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.timeutil import iso

if TYPE_CHECKING:
    from jobs.demo import Demo


def investigate_stage(demo: Demo) -> dict[str, Any]:
    from pipeline.query import catalog
    from pipeline.query.investigations import run_investigation
    from pipeline.query.logs_insights import run_insights

    lake = demo.lake
    lines: dict[str, Any] = {}
    if not lake.table_files("cloudtrail"):
        from pipeline.loader.ingest import ingest

        ingest(lake, demo.settings.loader, "cloudtrail", [str(demo.sample_dir / "cloudtrail")], quiet=True)
        lines["loaded sample CloudTrail"] = "no ingest stage ran: sample_data/cloudtrail loaded"
    extent = catalog.table_extent(lake, "cloudtrail")
    if extent is None:
        return {**lines, "result": "no CloudTrail events in the lake"}
    from pipeline.query.duck import run_query

    n = run_query(lake, "SELECT count(*) FROM cloudtrail WHERE eventTime >= $s",
                  default_bound_hours=None, params={"s": extent[0]}).rows()[0][0]
    lines["CloudTrail in the lake"] = f"{n:,} events, {iso(extent[0])} → {iso(extent[1])}"

    r = run_investigation(lake, "console_login_without_mfa")
    lines["console logins without MFA"] = f"{r.table.num_rows}" + "".join(
        f"; {x['who']} from {x['sourceIPAddress']} at {iso(x['eventTime'])}" for x in r.table.to_pylist()[:2])
    r = run_investigation(lake, "new_keys_and_users")
    rows = r.table.to_pylist()
    lines["new users / access keys"] = f"{len(rows)}" + "".join(
        f"; {x['eventName']} for {x['user_name']} by {str(x['created_by']).rsplit('/', 1)[-1]}" for x in rows[:3])
    r = run_investigation(lake, "security_changes")
    rows = r.table.to_pylist()
    lines["security config changes"] = f"{len(rows)}" + (": " + ", ".join(
        f"{x['eventName']} ({x['category']})" for x in rows[:4]) if rows else "")
    query = ('filter errorCode = "AccessDenied" | stats count(*) as n by userIdentity.arn, sourceIPAddress '
             "| sort n desc | limit 3")
    li = run_insights(lake, query, start=extent[0], end=extent[1])
    top = li.table.to_pylist()
    lines["Logs Insights AccessDenied top"] = "; ".join(
        f"{str(x['userIdentity.arn']).rsplit(':', 1)[-1]} @ {x['sourceIPAddress']}: {x['n']}" for x in top) or "none"
    lines.update(_changes(demo))
    if not demo.quiet:
        print(f"  Logs Insights: {query}")
        for x in top:
            print(f"    {x['n']:>5}  {x['userIdentity.arn']}  {x['sourceIPAddress']}")
    return lines


def _changes(demo: Demo) -> dict[str, Any]:
    """"What changed" before the first alarm (with dimensions) that went to ALARM, if any."""
    from pipeline.errors import QueryError
    from pipeline.query.changes import alarm_moment, what_changed

    lake = demo.lake
    if not lake.exists("alarms/definitions.json"):
        return {}
    docs = lake.read_json("alarms/definitions.json")
    for doc in docs if isinstance(docs, list) else []:
        if not isinstance(doc, dict) or not (doc.get("Dimensions") or doc.get("Metrics")):
            continue
        try:
            moment = alarm_moment(lake, str(doc.get("AlarmName")))
            r = what_changed(lake, moment)
        except QueryError:
            continue
        rows = r.table.to_pylist()
        top = "; ".join(f"{x['eventName']} {x['minutes_before']} min before by "
                        f"{str(x['who']).rsplit('/', 1)[-1]}" for x in rows[:2])
        return {f"changes before {doc.get('AlarmName')}": f"{len(rows)} write events" + (f" ({top})" if top else "")}
    return {}
