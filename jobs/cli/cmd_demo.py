"""``watchlake demo``: run every stage on the sample data and summarise what each produced."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run every pipeline stage on the sample data",
                       description="Generate nothing, download nothing: load the committed "
                       "sample data into the lake (./lake unless --lake) and run each stage.")
    p.add_argument("--stage", action="append", help="run only this stage (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.demo import STAGES, Demo, run_demo
    from pipeline.console import summary

    demo = Demo(lake=ctx.lake, settings=ctx.settings, quiet=ctx.quiet)
    results = run_demo(demo, only=args.stage)
    root = ctx.settings.lake.root
    summary("demo done", {
        "lake": f"{root} ({ctx.lake.root})" if root != ctx.lake.root else root,
        "stages run": f"{len(results)} of {len(STAGES)}",
        "next": f"watchlake --lake {root} dashboard   (then open the URL it prints)",
    })
    return 0
