"""``watchlake topics``: SNS-like topics and subscribers (file, http/https webhook, stdout)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("topics", help="SNS-like topics that alarm actions publish to",
                       description="Topics fan each message out to every subscriber: a JSONL file, an "
                       "HTTP(S) webhook (retried with backoff) or stdout. Undelivered messages are kept.")
    s = p.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    c = s.add_parser("create", help="create a topic (idempotent)")
    c.add_argument("name", help="plain name or arn:aws:sns:region:account:name")
    c.set_defaults(func=run_create)
    sb = s.add_parser("subscribe", help="add a subscriber")
    sb.add_argument("name")
    sb.add_argument("--protocol", required=True, choices=["file", "http", "https", "stdout"])
    sb.add_argument("--endpoint", default="", help="file path (relative = inside the lake) or URL")
    sb.add_argument("--raw", action="store_true", help="deliver only the message, not the SNS envelope")
    sb.add_argument("--retries", type=int, help="HTTP retries (default 3)")
    sb.add_argument("--min-delay", type=float, help="first retry delay in seconds (default 1)")
    sb.add_argument("--max-delay", type=float, help="largest retry delay in seconds (default 20)")
    sb.set_defaults(func=run_subscribe)
    u = s.add_parser("unsubscribe", help="remove a subscriber by its subscription ARN")
    u.add_argument("arn")
    u.set_defaults(func=run_unsubscribe)
    ls = s.add_parser("list", help="topics, subscribers and pending messages")
    ls.add_argument("--format", choices=["table", "json"], default="table")
    ls.set_defaults(func=run_list)
    pb = s.add_parser("publish", help="publish a message (JSON object or text)")
    pb.add_argument("name")
    pb.add_argument("--subject")
    pb.add_argument("--message", required=True)
    pb.set_defaults(func=run_publish)
    r = s.add_parser("retry", help="retry undelivered messages now")
    r.set_defaults(func=run_retry)
    d = s.add_parser("delete", help="delete a topic")
    d.add_argument("name")
    d.set_defaults(func=run_delete)


def run_create(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.notify import TopicStore

    store = TopicStore(ctx.lake)
    t = store.create(args.name)
    store.save()
    print(t.arn)
    return 0


def run_subscribe(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.notify import TopicStore

    policy = {k: v for k, v in {"numRetries": args.retries, "minDelayTarget": args.min_delay,
                                "maxDelayTarget": args.max_delay}.items() if v is not None}
    store = TopicStore(ctx.lake)
    s = store.subscribe(args.name, args.protocol, args.endpoint, raw=args.raw, policy=policy,
                        allow_absolute_paths=ctx.settings.notify.allow_absolute_paths)
    store.save()
    print(s.arn)
    return 0


def run_unsubscribe(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.errors import InputError
    from pipeline.notify import TopicStore

    store = TopicStore(ctx.lake)
    if not store.unsubscribe(args.arn):
        raise InputError("no such subscription", field="arn", value=args.arn)
    store.save()
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.notify import OUTBOX_PATH, TopicStore

    store = TopicStore(ctx.lake)
    pending = ctx.lake.read_json(OUTBOX_PATH) if ctx.lake.exists(OUTBOX_PATH) else []
    if args.format == "json":
        print(json.dumps({"Topics": [{"TopicArn": t.arn, "Subscriptions": [
            {"SubscriptionArn": s.arn, "Protocol": s.protocol, "Endpoint": s.endpoint,
             "RawMessageDelivery": s.raw, "Pending": sum(p["subscription"] == s.arn for p in pending)}
            for s in t.subscriptions]} for t in store.topics.values()]}, indent=2))
        return 0
    for t in sorted(store.topics.values(), key=lambda t: t.name):
        print(f"{t.name}  {t.arn}")
        for s in t.subscriptions:
            n = sum(p["subscription"] == s.arn for p in pending)
            print(f"  {s.protocol:6} {s.endpoint or '-'}{'  (raw)' if s.raw else ''}"
                  f"{f'  [{n} pending]' if n else ''}")
    return 0


def run_publish(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.notify import publish

    try:
        message: Any = json.loads(args.message)
        if not isinstance(message, dict):
            message = args.message
    except ValueError:
        message = args.message
    r = publish(ctx.lake, args.name, args.subject, message)
    print(f"{r.message_id}  delivered={r.delivered} queued={r.queued} failed={r.dead}")
    for e in r.errors:
        print(f"  error: {e}")
    return 0 if not r.errors else 1


def run_retry(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.notify import Notifier

    with Notifier(ctx.lake, retry_pending=False) as n:
        before = len(n.outbox)
        counts = n.retry_outbox(force=True)  # asked for by hand: every queued message, due or not
    if not ctx.quiet:
        summary("topics retry", {"pending before": before, **counts})
    return 0


def run_delete(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.errors import InputError
    from pipeline.notify import TopicStore

    store = TopicStore(ctx.lake)
    if not store.delete(args.name):
        raise InputError("no such topic", field="topic", value=args.name)
    store.save()
    return 0
