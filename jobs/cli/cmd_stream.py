"""``watchlake stream``: Kinesis-like streams on local disk (create, put, describe, get, list)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("stream", help="Kinesis-like streams on local disk",
                       description="Durable, sharded, replayable record streams under stream.root "
                       "(default ./streams): records go to a shard by MD5(partition key), get "
                       "increasing sequence numbers per shard and are kept for the retention period.")
    p.add_argument("--root", metavar="DIR", help="stream store folder (default: stream.root)")
    ss = p.add_subparsers(dest="stream_command", metavar="ACTION", required=True)

    c = ss.add_parser("create", help="create a stream")
    c.add_argument("name")
    c.add_argument("--shards", type=int, default=1, help="shard count (default 1)")
    c.add_argument("--retention-hours", type=int, default=None,
                   help="24-8760 (default: stream.retention_hours)")
    c.set_defaults(func=run_create)

    u = ss.add_parser("put", help="put records: each line of each FILE (or stdin) is one record")
    u.add_argument("name")
    u.add_argument("files", nargs="*", metavar="FILE", help="input files; '-' or none reads stdin")
    g = u.add_mutually_exclusive_group(required=True)
    g.add_argument("--partition-key", metavar="K", help="partition key of every record")
    g.add_argument("--partition-key-field", metavar="F",
                   help="take each record's partition key from this top-level JSON field")
    u.add_argument("--explicit-hash-key", metavar="N", help="decimal 128-bit hash key (overrides MD5)")
    u.add_argument("--whole-file", action="store_true", help="each file is one record, not each line")
    u.set_defaults(func=run_put)

    d = ss.add_parser("describe", help="print the stream's shards and settings as JSON")
    d.add_argument("name")
    d.set_defaults(func=run_describe)

    r = ss.add_parser("get", help="print records as `aws kinesis get-records` JSON")
    r.add_argument("name")
    r.add_argument("--shard-id", help="one shard (default: every shard)")
    r.add_argument("--iterator-type", default="TRIM_HORIZON",
                   choices=["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP"])
    r.add_argument("--sequence-number")
    r.add_argument("--timestamp", help="for AT_TIMESTAMP: ISO 8601, epoch or -15m")
    r.add_argument("--limit", type=int, default=10_000, help="records per shard (default 10000)")
    r.set_defaults(func=run_get)

    ls = ss.add_parser("list", help="list streams")
    ls.set_defaults(func=run_list)


def _root(args: argparse.Namespace, ctx: Context) -> str:
    return str(args.root or ctx.settings.stream.root)


def run_create(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.stream import Stream

    hours = args.retention_hours or ctx.settings.stream.retention_hours
    s = Stream.create(_root(args, ctx), args.name, args.shards, hours)
    summary(f"stream {args.name} created", {"shards": str(len(s.shard_ids)),
                                            "retention": f"{hours} h", "folder": s.folder})
    return 0


def _inputs(args: argparse.Namespace) -> list[tuple[str, bytes]]:
    files = args.files or ["-"]
    out = []
    for name in files:
        try:
            raw = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()
        except OSError as exc:
            from pipeline.errors import InputNotFoundError

            raise InputNotFoundError(name, exc.strerror or "cannot read") from None
        if args.whole_file:
            out.append((name, raw))
        else:
            out += [(f"{name}:{i}", line) for i, line in enumerate(raw.splitlines(), 1) if line.strip()]
    return out


def run_put(args: argparse.Namespace, ctx: Context) -> int:
    import orjson

    from pipeline.console import summary
    from pipeline.errors import InputError
    from pipeline.stream import Stream

    s = Stream.open(_root(args, ctx), args.name)
    records = []
    for where, data in _inputs(args):
        key = args.partition_key
        if args.partition_key_field:
            try:
                value = orjson.loads(data).get(args.partition_key_field)
            except (orjson.JSONDecodeError, AttributeError):
                value = None
            if value in (None, ""):
                path, _, line = where.rpartition(":")
                raise InputError("record has no partition key field", path=path or where,
                                 line=int(line) if line.isdigit() else None, field=args.partition_key_field)
            key = str(value)
        records.append((key, data, args.explicit_hash_key))
    results = []
    for i in range(0, len(records), 10_000):  # each call is durable on return (one fsync per shard)
        results += s.put(records[i:i + 10_000])
    per_shard: dict[str, int] = {}
    for r in results:
        per_shard[r.shard_id] = per_shard.get(r.shard_id, 0) + 1
    rows = {"records put": str(len(results)),
            "per shard": ", ".join(f"{k} {v}" for k, v in sorted(per_shard.items())) or "-"}
    if results:
        rows["last sequence number"] = results[-1].sequence_number
    summary(f"put to {args.name}", rows)
    return 0


def run_describe(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.stream import Stream

    print(json.dumps({"StreamDescription": Stream.open(_root(args, ctx), args.name).describe()}, indent=2))
    return 0


def run_get(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.stream import Stream
    from pipeline.timeutil import parse_time

    s = Stream.open(_root(args, ctx), args.name)
    ts = parse_time(args.timestamp) if args.timestamp else None
    shard_ids = [args.shard_id] if args.shard_id else s.shard_ids
    records: list[dict[str, Any]] = []
    doc: dict[str, Any] = {}
    for sid in shard_ids:
        pos = s.position(sid, args.iterator_type, args.sequence_number, ts)
        doc = s.get_records(s.iterator(sid, pos), args.limit)
        records += doc["Records"]
    out: dict[str, Any] = {"Records": records}
    if len(shard_ids) == 1:
        out.update(NextShardIterator=doc["NextShardIterator"], MillisBehindLatest=doc["MillisBehindLatest"])
    print(json.dumps(out, indent=2))
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.stream import Stream

    print(json.dumps({"StreamNames": Stream.names(_root(args, ctx))}, indent=2))
    return 0
