"""``watchlake flink warm``: prepare this install's Flink JVM for fast start-ups (class-data archive)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("flink", help="Flink engine utilities",
                       description="Utilities for the Flink engine (watchlake run/rollup --engine flink).")
    ss = p.add_subparsers(dest="flink_cmd", required=True)
    w = ss.add_parser("warm", help="build the JVM class-data archive that shortens every Flink start-up",
                      description="Run the rollup job once on a tiny input in a JVM that records the classes it "
                      "loads, and keep them as a class-data-sharing archive (~115 MB) in the cache folder "
                      "(WATCHLAKE_FLINK_CACHE, else ~/.cache/watchlake/flink). Later Flink JVMs of this install "
                      "map it when it matches their JVM and classpath (start-up JVM CPU a quarter to a third lower). "
                      "Takes about a minute; once per install (again after a JDK or apache-flink upgrade). "
                      "Then compiles the streaming rollup job's plan for the lake (kept beside its checkpoints), "
                      "so that the first `watchlake run --engine flink` starts as fast as a restart.")
    w.add_argument("--force", action="store_true", help="rebuild even if an archive exists")
    w.add_argument("--no-plan", action="store_true", help="only the archive: do not compile the lake's job plan")
    w.set_defaults(func=warm)


def warm(args: argparse.Namespace, ctx: Context) -> int:
    import os
    import time

    from jobs.flink import jvm
    from pipeline.console import summary

    t0 = time.perf_counter()
    path = jvm.build(force=args.force)
    out = {"archive": str(path), "size": f"{os.path.getsize(path) / 1e6:.0f} MB"}
    if not args.no_plan:
        from jobs.flink.stream import StreamConfig, compile_plan

        plan, made = compile_plan(StreamConfig.for_lake(ctx.lake))
        out["rollup plan"] = f"{plan} ({'compiled' if made else 'kept: compiled before'})"
    out["time"] = f"{time.perf_counter() - t0:.1f} s"
    summary("flink warm", out)
    return 0
