"""``watchlake ingest KIND SOURCE...``: bulk backfill from files, folders, globs or s3:// into
the lake (the Firehose-like loader fed straight from the readers)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="bulk-load CloudTrail / metrics / logs / Kinesis records files",
                       description="Read real AWS formats (see `watchlake generate`) and load them into "
                       "the lake exactly once: buffered per event-time partition, de-duplicated by "
                       "record key against what is already there, bad records to errors/<source>/.")
    p.add_argument("kind", choices=["cloudtrail", "metrics", "logs", "records"])
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="file, folder, glob or s3://bucket/prefix")
    p.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint for s3:// sources")
    p.add_argument("--since", help="only S3-layout date folders from this day (ISO 8601, -7d …)")
    p.add_argument("--until", help="only S3-layout date folders before this day")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes, each reading and loading its share of the files "
                        "(default: one per CPU, at most 8; one for a single file)")
    m = p.add_argument_group("metrics CSV / get-metric-* input")
    m.add_argument("--namespace")
    m.add_argument("--metric-name")
    m.add_argument("--dimension", action="append", metavar="K=V", help="repeatable")
    m.add_argument("--unit")
    lg = p.add_argument_group("logs filter-log-events input")
    lg.add_argument("--log-group")
    lg.add_argument("--log-stream")
    k = p.add_argument_group("Kinesis records input")
    k.add_argument("--stream-name")
    k.add_argument("--shard-id")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from pipeline.errors import InputError

    opts: dict[str, Any] = {}
    for name in ("namespace", "metric_name", "unit", "log_group", "log_stream", "stream_name", "shard_id"):
        if getattr(args, name):
            opts[name] = getattr(args, name)
    if args.dimension:
        dims = {}
        for d in args.dimension:
            key, sep, value = d.partition("=")
            if not sep or not key:
                raise InputError("dimensions are K=V", field="dimension", value=d)
            dims[key] = value
        opts["dimensions"] = dims
    return opts


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.loader.ingest import ingest

    s = ingest(ctx.lake, ctx.settings.loader, args.kind, args.sources, quiet=ctx.quiet,
               endpoint_url=args.endpoint_url, since=args.since, until=args.until,
               workers=max(1, args.workers if args.workers is not None else min(os.cpu_count() or 1, 8)),
               **_options(args))
    summary(f"ingest {args.kind}", s.lines())
    return 0
