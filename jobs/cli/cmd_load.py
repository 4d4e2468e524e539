"""``watchlake load --from-stream NAME``: a Firehose-like delivery stream from a Kinesis-like
stream (local, or a real Kinesis endpoint) into the lake's ``records`` table."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("load", help="load a stream into the lake (Firehose-like, exactly once)",
                       description="Read a stream from the consumer's checkpoint, buffer by size and "
                       "time per partition (loader.buffer_mib / loader.buffer_seconds), write Parquet "
                       "to raw/records/stream=NAME/dt=…, then checkpoint. Rerunning after a crash "
                       "never duplicates a record.")
    p.add_argument("--from-stream", required=True, metavar="NAME", help="stream to read")
    p.add_argument("--once", action="store_true", help="drain what is there, then exit")
    p.add_argument("--consumer", default="watchlake-loader", help="checkpoint name (default watchlake-loader)")
    p.add_argument("--kinesis-endpoint", metavar="URL",
                   help="read a real Kinesis Data Streams endpoint instead of the local store")
    p.add_argument("--region", default="us-east-1", help="AWS region for --kinesis-endpoint")
    p.add_argument("--stream-root", metavar="DIR", help="local stream store (default: stream.root)")
    p.add_argument("--iterator-type", default="TRIM_HORIZON",
                   choices=["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AT_TIMESTAMP"],
                   help="start position of shards without a checkpoint")
    p.add_argument("--sequence-number", help="for AT_SEQUENCE_NUMBER")
    p.add_argument("--timestamp", help="for AT_TIMESTAMP: ISO 8601, epoch or -15m")
    p.add_argument("--route", action="store_true",
                   help="load payloads that are CloudTrail events, CloudWatch Logs subscription payloads or "
                   "Metric Streams lines into those tables instead of records")
    p.add_argument("--poll-seconds", type=float, default=1.0, help="idle wait between polls (default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.follow import Schedule, follow, stop_on_signals
    from pipeline.console import Progress, summary
    from pipeline.loader import Loader
    from pipeline.loader.from_stream import StreamDelivery
    from pipeline.stream import Stream
    from pipeline.stream.consumer import Checkpoints, LocalConsumer, StartPosition, describe_state
    from pipeline.timeutil import parse_time

    root = str(args.stream_root or ctx.settings.stream.root)
    start = StartPosition(args.iterator_type, args.sequence_number,
                          parse_time(args.timestamp) if args.timestamp else None)
    cps = Checkpoints.for_consumer(root, args.from_stream, args.consumer, args.kinesis_endpoint)
    consumer: Any
    if args.kinesis_endpoint:
        from pipeline.stream.kinesis import KinesisConsumer

        consumer = KinesisConsumer(args.from_stream, args.kinesis_endpoint, cps, start, region=args.region)
    else:
        consumer = LocalConsumer(Stream.open(root, args.from_stream), cps, start)
    loader = Loader(ctx.lake, ctx.settings.loader,
                    progress=Progress(f"load {args.from_stream}", enabled=not ctx.quiet))
    delivery = StreamDelivery(consumer, loader, route=args.route)
    if args.once:
        s = delivery.drain()
    else:
        with stop_on_signals() as stop:  # SIGTERM / Ctrl+C: the running poll ends, the buffers drain
            try:
                for _ in follow(lambda: delivery.step(100), Schedule(args.poll_seconds), stop=stop):
                    pass
            finally:
                s = delivery.close()
    lines = s.lines()
    lines["checkpoint"] = describe_state(consumer.state) or "-"
    summary(f"load from stream {args.from_stream}", lines)
    return 0
