"""``watchlake compact``: merge small Parquet files per partition (atomic, resumable)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context

RAW_TABLES = ["cloudtrail", "metrics", "logs", "records"]


def register(sub: Any) -> None:
    p = sub.add_parser("compact", help="merge small files per partition (atomic, resumable)",
                       description="A streaming loader writes many small files; this rewrites the small "
                       "files of each partition into one (row groups of 128k rows) under the partition "
                       "lock, so loads may run meanwhile. Interrupt it at any point and run it again.")
    p.add_argument("--table", action="append", choices=RAW_TABLES,
                   help="table to compact (repeatable; default: all raw tables)")
    p.add_argument("--small-mib", type=int, default=64, help="files below this size are merged (default 64)")
    p.add_argument("--min-files", type=int, default=2, help="merge only when at least this many small files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import Progress, human_bytes, summary
    from pipeline.errors import InputError
    from pipeline.loader.compact import compact

    if args.small_mib < 1 or args.min_files < 2:
        raise InputError("--small-mib must be >= 1 and --min-files >= 2", field="compact")
    with Progress("compact partitions", enabled=not ctx.quiet) as progress:
        s = compact(ctx.lake, args.table or RAW_TABLES, small_bytes=args.small_mib << 20,
                    min_files=args.min_files, progress=progress)
    rows = {
        "partitions seen": str(s.partitions),
        "partitions compacted": str(s.compacted),
        "files": f"{s.files_in} → {s.files_out}",
        "rows rewritten": f"{s.rows:,}",
        "bytes": f"{human_bytes(s.bytes_in)} → {human_bytes(s.bytes_out)}",
    }
    if s.recovered:
        rows["recovered"] = f"{s.recovered} interrupted compactions finished"
    for note in s.skipped:
        rows.setdefault("skipped", note)
    summary("compact", rows)
    return 0
