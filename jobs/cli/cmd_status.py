"""``watchlake status``: lag and health of each stage of ``watchlake run``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="lag and health per stage of `watchlake run`",
                       description="Read the status `watchlake run` keeps in the lake (_state/run/status.json): "
                       "whether it is running (heartbeat), and per stage its steps, failures, lag, records "
                       "in/out and last step. Exit code 1 when the pipeline is not running or a stage is failing.")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--stale-seconds", type=float, default=60.0,
                   help="a heartbeat older than this means the pipeline is not running (default 60)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.run.health import STATUS_PATH
    from pipeline.console import summary
    from pipeline.errors import InputError
    from pipeline.timeutil import parse_time, utcnow

    if not ctx.lake.exists(STATUS_PATH):
        raise InputError("no pipeline status in this lake: `watchlake run` has not run here", path=ctx.lake.root)
    doc = ctx.lake.read_json(STATUS_PATH)
    age = (utcnow() - parse_time(doc["heartbeat"])).total_seconds()
    running = doc.get("state") == "running" and age <= args.stale_seconds
    failing = [n for n, s in doc["stages"].items() if s["failures_in_a_row"]]
    if args.format == "json":
        print(json.dumps({**doc, "heartbeat_age_seconds": round(age, 1), "running": running}, indent=1))
    else:
        print(f"{'STAGE':<34} {'STEPS':>7} {'FAILED':>6} {'LAG s':>8} {'IN':>12} {'OUT':>12}  LAST")
        for name, s in doc["stages"].items():
            last = s.get("last_step") or {}
            note = last.get("error") or last.get("detail") or ""
            print(f"{name[:34]:<34} {s['steps']:>7} {s['errors']:>6} {s['lag_seconds']:>8.1f} "
                  f"{s['records_in']:>12,} {s['records_out']:>12,}  {note[:60]}")
    summary("watchlake status", {
        "pipeline": ("running" if running else f"not running ({doc.get('state')}, last heartbeat {age:.0f} s ago)")
        + f", pid {doc['pid']}, since {doc['started']}",
        "stages": f"{len(doc['stages'])}, failing: {', '.join(failing) or 'none'}",
        "pending notifications": doc.get("pending_notifications", 0)})
    return 0 if running and not failing else 1
