"""Demo stage "investigate": saved investigations, a Logs Insights query and "what changed" on the
demo lake.

Runs three saved investigations (console sign-ins without MFA, new access keys and users, security
configuration changes), one Logs Insights query (AccessDenied by principal and IP), and — when the
alarms stage left an alarm that went to ALARM on an EC2/Lambda/… metric — "what changed before
it". When the lake has no CloudTrail yet (no ingest stage ran), the sample CloudTrail is loaded
first through the loader (exactly once: the ledger makes a later ingest a no-op).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.timeutil import iso

if TYPE_CHECKING:
    from jobs.demo import Demo


Rows = list[dict[str, Any]]
QUERY = ('filter errorCode = "AccessDenied" | stats count(*) as n by userIdentity.arn, sourceIPAddress '
         "| sort n desc | limit 3")


@dataclass
class InvestigateStage:
    """The ``investigate`` stage: the rows each investigation returned (``loaded_sample``: the stage
    had to load the sample CloudTrail itself; ``extent`` None: the lake has no CloudTrail)."""

    loaded_sample: bool = False
    extent: tuple[datetime, datetime] | None = None
    events: int = 0
    logins_without_mfa: Rows = field(default_factory=list)
    new_keys_and_users: Rows = field(default_factory=list)
    security_changes: Rows = field(default_factory=list)
    access_denied_top: Rows = field(default_factory=list)
    changes: tuple[str, Rows] | None = None
    """(alarm name, write events before it) for the first alarm that went to ALARM."""

    def lines(self) -> dict[str, object]:
        lines: dict[str, object] = {}
        if self.loaded_sample:
            lines["loaded sample CloudTrail"] = "no ingest stage ran: sample_data/cloudtrail loaded"
        if self.extent is None:
            return {**lines, "result": "no CloudTrail events in the lake"}
        lines["CloudTrail in the lake"] = f"{self.events:,} events, {iso(self.extent[0])} → {iso(self.extent[1])}"
        lines["console logins without MFA"] = f"{len(self.logins_without_mfa)}" + "".join(
            f"; {x['who']} from {x['sourceIPAddress']} at {iso(x['eventTime'])}"
            for x in self.logins_without_mfa[:2])
        rows = self.new_keys_and_users
        lines["new users / access keys"] = f"{len(rows)}" + "".join(
            f"; {x['eventName']} for {x['user_name']} by {str(x['created_by']).rsplit('/', 1)[-1]}"
            for x in rows[:3])
        rows = self.security_changes
        lines["security config changes"] = f"{len(rows)}" + (": " + ", ".join(
            f"{x['eventName']} ({x['category']})" for x in rows[:4]) if rows else "")
        lines["Logs Insights AccessDenied top"] = "; ".join(
            f"{str(x['userIdentity.arn']).rsplit(':', 1)[-1]} @ {x['sourceIPAddress']}: {x['n']}"
            for x in self.access_denied_top) or "none"
        if self.changes is not None:
            name, rows = self.changes
            top = "; ".join(f"{x['eventName']} {x['minutes_before']} min before by "
                            f"{str(x['who']).rsplit('/', 1)[-1]}" for x in rows[:2])
            lines[f"changes before {name}"] = f"{len(rows)} write events" + (f" ({top})" if top else "")
        return lines


def investigate_stage(demo: Demo) -> InvestigateStage:
    from pipeline.query import catalog
    from pipeline.query.duck import run_query
    from pipeline.query.investigations import run_investigation
    from pipeline.query.logs_insights import run_insights

    lake = demo.lake
    out = InvestigateStage()
    if not lake.table_files("cloudtrail"):
        from pipeline.loader.ingest import ingest

        ingest(lake, demo.settings.loader, "cloudtrail", [str(demo.sample_dir / "cloudtrail")], quiet=True)
        out.loaded_sample = True
    out.extent = extent = catalog.table_extent(lake, "cloudtrail")
    if extent is None:
        return out
    out.events = run_query(lake, "SELECT count(*) FROM cloudtrail WHERE eventTime >= $s",
                           default_bound_hours=None, params={"s": extent[0]}).rows()[0][0]
    out.logins_without_mfa = run_investigation(lake, "console_login_without_mfa").table.to_pylist()
    out.new_keys_and_users = run_investigation(lake, "new_keys_and_users").table.to_pylist()
    out.security_changes = run_investigation(lake, "security_changes").table.to_pylist()
    out.access_denied_top = run_insights(lake, QUERY, start=extent[0], end=extent[1]).table.to_pylist()
    out.changes = _changes(demo)
    if not demo.quiet:
        print(f"  Logs Insights: {QUERY}")
        for x in out.access_denied_top:
            print(f"    {x['n']:>5}  {x['userIdentity.arn']}  {x['sourceIPAddress']}")
    return out


def _changes(demo: Demo) -> tuple[str, Rows] | None:
    """"What changed" before the first alarm (with dimensions) that went to ALARM, if any."""
    from pipeline.errors import QueryError
    from pipeline.query.changes import alarm_moment, what_changed

    lake = demo.lake
    if not lake.exists("alarms/definitions.json"):
        return None
    docs = lake.read_json("alarms/definitions.json")
    for doc in docs if isinstance(docs, list) else []:
        if not isinstance(doc, dict) or not (doc.get("Dimensions") or doc.get("Metrics")):
            continue
        try:
            moment = alarm_moment(lake, str(doc.get("AlarmName")))
            r = what_changed(lake, moment)
        except QueryError:
            continue
        return str(doc.get("AlarmName")), r.table.to_pylist()
    return None
