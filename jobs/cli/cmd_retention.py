"""``watchlake retention apply``: drop expired partitions of raw metrics and each tier."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("retention", help="apply metric retention per tier",
                       description="Drop partitions older than tiers.raw_days / m1_days / "
                       "m5_days / h1_days, measured from the data clock or the wall clock "
                       "(tiers.clock). Data not rolled up yet is never dropped.")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = rsub.add_parser("apply", help="drop expired partitions and report them")
    a.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    a.add_argument("--now", help="wall-clock time to use with tiers.clock = wall (default: now)")
    a.add_argument("--verbose", "-v", action="store_true", help="list every partition")
    a.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Any) -> int:
    from jobs.retention import retention, summary_lines
    from pipeline.console import summary
    from pipeline.timeutil import parse_time

    now = parse_time(args.now) if args.now else None
    report = retention(ctx.lake, ctx.settings, now=now, dry_run=args.dry_run)
    if args.verbose:
        for e in report.dropped:
            print(f"{'would drop' if args.dry_run else 'dropped'}\t{e.folder}\t{e.files} files")
        for e, why in report.kept:
            print(f"kept\t{e.folder}\t{why}")
    summary("retention" + (" (dry run)" if args.dry_run else ""), summary_lines(report))
    return 0
