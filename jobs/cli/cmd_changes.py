"""``watchlake changes``: what changed (CloudTrail writes) on a metric's resources before a moment."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline.errors import QueryError

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    from jobs.cli.cmd_sql import add_output_args

    p = sub.add_parser("changes", help="what changed before an alarm, an anomaly or a time",
                       description="List the CloudTrail write events on the resources behind a metric "
                       "(its dimension values found in requestParameters, responseElements or resources) "
                       "in the window before an alarm's transition to ALARM, an anomaly, or --end, ranked "
                       "by closeness in time and relevance.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--alarm", metavar="NAME", help="an alarm: its dimensions and latest ALARM transition")
    what.add_argument("--anomaly", metavar="ID", help="an anomaly (id, series id or detector)")
    what.add_argument("--end", metavar="TIME", help="look back from this time (with --dim)")
    p.add_argument("--at", metavar="TIME", help="with --alarm/--anomaly: the transition at or before TIME")
    p.add_argument("--start", metavar="TIME", help="window start (default: --lookback before the moment)")
    p.add_argument("--lookback", default="2h", help="window length when --start is not given (default 2h)")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                   help="a metric dimension, e.g. InstanceId=i-0abc (repeatable; adds to the alarm's)")
    p.add_argument("--namespace", help="the metric's namespace (AWS/EC2 …), for relevance")
    p.add_argument("--limit", type=int, default=50)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import timedelta

    from jobs.cli.cmd_sql import emit
    from pipeline.query import changes
    from pipeline.timeutil import parse_duration, parse_time

    dims = {}
    for item in args.dim:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value:
            raise QueryError(f"--dim expects NAME=VALUE (got {item!r})")
        dims[key.strip()] = value
    at = parse_time(args.at) if args.at else None
    if args.alarm:
        moment = changes.alarm_moment(ctx.lake, args.alarm, at)
    elif args.anomaly:
        moment = changes.anomaly_moment(ctx.lake, args.anomaly, at)
    else:
        moment = changes.Moment(parse_time(args.end), {}, None, f"before {args.end}")
    moment.dims.update(dims)
    if args.namespace:
        moment.namespace = args.namespace
    result = changes.what_changed(ctx.lake, moment, lookback=timedelta(seconds=parse_duration(args.lookback)),
                                  start=parse_time(args.start) if args.start else None, limit=args.limit)
    emit(result, args.format, args.output, quiet=ctx.quiet)
    return 0
