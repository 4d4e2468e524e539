"""``watchlake insights``: CloudWatch Logs Insights queries over the lake (cloudtrail or logs).

Not to be confused with CloudTrail Insights (``watchlake anomalies …``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    from jobs.cli.cmd_sql import add_output_args

    p = sub.add_parser("insights", help="CloudWatch Logs Insights queries over cloudtrail or logs",
                       description="Run a CloudWatch Logs Insights query (fields, filter, stats, sort, "
                       "limit, parse, display, dedup; bin, count, count_distinct, sum, avg, min, max, "
                       "pct, earliest, latest, …) over the lake's CloudTrail events or CloudWatch Logs. "
                       "Start and end are inclusive; without --start the newest "
                       "query.default_bound_hours of data are searched.")
    p.add_argument("query", help="the Logs Insights query text")
    p.add_argument("--source", choices=["cloudtrail", "logs"], default="cloudtrail")
    p.add_argument("--start", help="start time (ISO 8601, epoch, or relative like -2h)")
    p.add_argument("--end", help="end time (default: no end)")
    p.add_argument("--explain", action="store_true", help="print the DuckDB SQL instead of running it")
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.cli.cmd_sql import emit
    from pipeline.query.logs_insights import run_insights, to_sql
    from pipeline.timeutil import parse_time

    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    max_rows = args.max_rows or ctx.settings.query.max_rows
    if args.explain:
        print(to_sql(args.query, source=args.source, start=start, end=end, max_rows=max_rows))
        return 0
    result = run_insights(ctx.lake, args.query, source=args.source, start=start, end=end, max_rows=max_rows,
                          default_bound_hours=ctx.settings.query.default_bound_hours)
    emit(result, args.format, args.output, quiet=ctx.quiet)
    return 0
