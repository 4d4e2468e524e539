"""``watchlake retention apply``: drop expired partitions of raw metrics and each tier."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context
    from pipeline.rollup.retention import RetentionReport


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


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.retention import retention
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


def summary_lines(report: RetentionReport) -> dict[str, str]:
    """Short ``key: value`` lines for the end-of-command summary."""
    from pipeline.console import human_bytes
    from pipeline.timeutil import iso

    verb = "would drop" if report.dry_run else "dropped"
    lines = {"clock": f"{report.clock_kind} clock, "
                      f"{iso(report.clock) if report.clock else '(no data: nothing to do)'}"}
    for table, n in report.by_table().items():
        gone = [e for e in report.dropped if e.table == table]
        horizon = report.horizons.get(table)
        lines[table] = (f"{verb} {n} partitions ({sum(e.files for e in gone)} files, "
                        f"{human_bytes(sum(e.bytes for e in gone))})"
                        + (f", keeps data after {iso(horizon)}" if horizon else ""))
    if report.kept:
        lines["kept"] = f"{len(report.kept)} expired partitions not rolled up yet"
    return lines
