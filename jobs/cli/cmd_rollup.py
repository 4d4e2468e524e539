"""``watchlake rollup``: build the 1m / 5m / 1h metric tiers (and CloudTrail activity metrics)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context
    from pipeline.rollup.runner import RollupReport


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rollup", help="roll raw metrics and CloudTrail activity up into 1m/5m/1h tiers",
        description="Build metrics_1m from raw metrics and CloudTrail activity, metrics_5m from "
        "1m and metrics_1h from 5m. Incremental and idempotent: only partitions whose sources "
        "changed are rebuilt, buckets inside the recompute window (tiers.recompute_window_minutes)"
        " are updated by late data, and each partition is replaced atomically.")
    p.add_argument("--engine", choices=["duckdb", "flink"], default="duckdb",
                   help="duckdb (default) or flink (a PyFlink job on a local mini-cluster)")
    p.add_argument("--full", action="store_true",
                   help="rebuild every partition whose sources are still retained")
    p.add_argument("--parallelism", type=int, default=1, help="Flink parallelism (default 1)")
    p.add_argument("--flink-mode", choices=["streaming", "batch"], default="streaming",
                   help="Flink runtime mode: streaming (watermarks fire the windows; default) or batch")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.batch_rollup import rollup
    from pipeline.console import summary

    def progress(line: str) -> None:
        if not ctx.quiet:
            print(line, file=sys.stderr, flush=True)

    report = rollup(ctx.lake, ctx.settings, args.engine, full=args.full,
                    parallelism=args.parallelism, flink_mode=args.flink_mode, progress=progress)
    summary("rollup", summary_lines(report))
    return 0


def summary_lines(report: RollupReport) -> dict[str, str]:
    """Short ``key: value`` lines for the end-of-command summary."""
    from pipeline.timeutil import iso

    lines: dict[str, str] = {"engine": report.engine,
                             "data clock": iso(report.clock) if report.clock else "(no data)"}
    for j in report.jobs:
        late = f", {len(j.late)} late (outside the recompute window; --full rebuilds)" if j.late else ""
        lines[j.job] = (f"{len(j.built)} partitions built, {j.unchanged} unchanged{late}, "
                        f"{j.rows:,} rows written, {j.seconds:.2f} s")
    lines["time"] = f"{report.seconds:.2f} s"
    return lines
