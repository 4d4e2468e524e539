"""``watchlake run``: the always-on pipeline (every stage, incrementally, until stopped)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="run the monitoring pipeline: follow streams and sources, run every stage live",
        description="Follow every local stream (and the [run] sources), load, roll up, evaluate alarms, "
        "score anomalies, find Insights and detections, apply retention and compaction — each stage "
        "incrementally with its own checkpoint, notifying topics. SIGTERM or Ctrl+C drains and stops; "
        "`watchlake status` shows each stage's lag and health.")
    p.add_argument("--disable", action="append", metavar="STAGE", default=[],
                   help="do not run this stage (repeatable; adds to run.disable)")
    p.add_argument("--engine", choices=["duckdb", "flink"], help="engine of the rollup and anomaly stages (default: "
                   "run.engine, duckdb); flink runs both as streaming Flink jobs")
    p.add_argument("--flink-address", metavar="HOST:PORT",
                   help="with --engine flink: submit to this JobManager (REST) instead of a local mini-cluster")
    p.add_argument("--ticks", type=int, default=None, help=argparse.SUPPRESS)  # tests: stop after N ticks
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.follow import stop_on_signals
    from jobs.run import build_stages, run_pipeline
    from pipeline.config import RunSettings
    from pipeline.console import summary

    settings = ctx.settings
    if args.disable or args.engine or args.flink_address:
        settings.run.disable = [*settings.run.disable, *args.disable]
        settings.run.engine = args.engine or settings.run.engine
        settings.run.flink_address = args.flink_address or settings.run.flink_address
        RunSettings.validate(settings.run)
    if not ctx.quiet:
        names = [s.name for s in build_stages(ctx.lake, settings)]
        summary("watchlake run", {"lake": ctx.lake.root, "streams": f"{settings.stream.root} "
                                  f"({', '.join(settings.run.streams) or 'none'})",
                                  "stages": ", ".join(names), "stop": "SIGTERM or Ctrl+C (drains buffers)"})
    with stop_on_signals() as stop:
        rep = run_pipeline(ctx.lake, settings, stop, iterations=args.ticks)
    if not ctx.quiet:
        lines = {name: f"{n} steps, {rep.errors.get(name, 0)} failed, in {rep.records_in.get(name, 0):,}, "
                       f"out {rep.records_out.get(name, 0):,}, {rep.notifications.get(name, 0)} notifications"
                 for name, n in rep.steps.items()}
        summary("watchlake run stopped", {"reason": rep.stop_reason or "-", "time": f"{rep.seconds:.1f} s", **lines})
    return 0
