"""``watchlake metric-filters``: CloudWatch Logs metric filters — put, describe, delete, test,
apply (a backfill) and follow (the live path ``watchlake run`` takes)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("metric-filters", help="CloudWatch Logs metric filters: log events → metrics",
                       description="Metric filters with PutMetricFilter field names: each log event of the "
                       "filter's log group that matches its pattern becomes a datapoint of a custom metric, "
                       "live in `watchlake run` (events that arrive after the filter is put, as CloudWatch).")
    s = p.add_subparsers(dest="mf_command", metavar="ACTION", required=True)
    put = s.add_parser("put", help="create or replace filters from a YAML/JSON file (one or a list)")
    put.add_argument("file")
    put.set_defaults(func=run_put)
    d = s.add_parser("describe", help="list the filters")
    d.add_argument("--log-group", help="only this log group's")
    d.add_argument("--format", choices=["table", "json"], default="table")
    d.set_defaults(func=run_describe)
    rm = s.add_parser("delete", help="delete one filter")
    rm.add_argument("--log-group", required=True)
    rm.add_argument("name")
    rm.set_defaults(func=run_delete)
    t = s.add_parser("test", help="which messages a pattern matches, and the values it extracts "
                     "(TestMetricFilter)")
    t.add_argument("--pattern", required=True, help="the filter pattern")
    t.add_argument("messages", nargs="*", help="log event messages (or --file)")
    t.add_argument("--file", help="one message per line")
    t.add_argument("--value", help="also show this metricValue ($.field or $name) for each match")
    t.set_defaults(func=run_test)
    a = s.add_parser("apply", help="backfill: the filters over the lake's log events in a range "
                     "(CloudWatch has no backfill; running it twice writes the datapoints twice)")
    a.add_argument("--from", dest="start", help="first event time (default: all)")
    a.add_argument("--to", dest="end", help="end of the range (exclusive)")
    a.add_argument("--name", action="append", default=[], help="only this filter (repeatable)")
    a.add_argument("--dry-run", action="store_true", help="count and show, write nothing")
    a.set_defaults(func=run_apply)
    f = s.add_parser("follow", help="one step of the live path: log files committed since the checkpoint")
    f.add_argument("--from-start", action="store_true", help="the first time: also the files already there")
    f.set_defaults(func=run_follow)


def run_put(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.metricfilters.model import FilterStore, load_filters
    from pipeline.timeutil import utcnow

    filters = load_filters(args.file)
    store = FilterStore(ctx.lake)
    made, replaced = store.put(filters, utcnow())
    store.save()
    for f in filters:
        print(f"{'put':<8} {f.log_group}  {f.name}  → {f.transformation.namespace} {f.transformation.metric_name}")
    if not ctx.quiet:
        summary("metric-filters put", {"file": args.file, "created": made, "replaced": replaced,
                                       "filters in lake": len(store.filters)}, stream=sys.stderr)
    return 0


def run_describe(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.metricfilters.model import FilterStore

    store = FilterStore(ctx.lake)
    shown = [f for (g, _), f in sorted(store.filters.items()) if args.log_group in (None, g)]
    if args.format == "json":
        print(json.dumps({"metricFilters": [{**f.definition, "creationTime": f.created} for f in shown]}, indent=1))
        return 0
    print(f"{'LOG GROUP':<28} {'FILTER':<24} {'METRIC':<36} PATTERN")
    for f in shown:
        t = f.transformation
        print(f"{f.log_group:<28} {f.name:<24} {t.namespace + ' ' + t.metric_name:<36} {f.pattern.text}")
    return 0


def run_delete(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.errors import InputError
    from pipeline.metricfilters.model import FilterStore

    store = FilterStore(ctx.lake)
    if not store.delete(args.log_group, args.name):
        raise InputError(f"no metric filter {args.name!r} on log group {args.log_group!r}")
    store.save()
    print(f"deleted  {args.log_group}  {args.name}")
    return 0


def run_test(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from pipeline.errors import InputNotFoundError
    from pipeline.metricfilters.pattern import parse_pattern

    pattern = parse_pattern(args.pattern)
    messages = list(args.messages)
    if args.file:
        if not Path(args.file).is_file():
            raise InputNotFoundError(args.file, "no such message file")
        messages += Path(args.file).read_text(encoding="utf-8", errors="replace").splitlines()
    matches = []
    for i, msg in enumerate(messages, start=1):
        m = pattern.match(msg)
        if m is None:
            continue
        extracted: dict[str, Any] = {f"${k}": v for k, v in m.fields.items()}
        if args.value:
            extracted[args.value] = m.value_of(args.value)
        matches.append({"eventNumber": i, "eventMessage": msg, "extractedValues": extracted})
    print(json.dumps({"matches": matches}, indent=1, default=str))
    if not ctx.quiet:
        from pipeline.console import summary

        summary("metric-filters test", {"pattern": f"{args.pattern} ({pattern.kind})",
                                        "messages": len(messages), "matched": len(matches)}, stream=sys.stderr)
    return 0


def run_apply(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.metricfilters.apply import apply_range
    from pipeline.timeutil import parse_time

    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    rep, table = apply_range(ctx.lake, start, end, names=args.name, dry_run=args.dry_run)
    if not ctx.quiet:
        summary("metric-filters apply", {
            "events read": rep.events, "matched": rep.matched, "defaults": rep.defaults,
            "without a value": rep.no_value,
            **{f"disabled {i + 1}": d for i, d in enumerate(rep.disabled)},
            "datapoints": f"{rep.datapoints}{' (dry run: not written)' if args.dry_run else ''}",
            **{f"filter {k}": v for k, v in sorted(rep.by_filter.items())}}, stream=sys.stderr)
    del table
    return 0


def run_follow(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.metricfilters.apply import FilterFollower

    fol = FilterFollower(ctx.lake, from_start=args.from_start)
    rep = fol.poll()
    if not ctx.quiet:
        summary("metric-filters follow", {"new log files": rep.files, "events read": rep.events,
                                          "matched": rep.matched, "datapoints": rep.datapoints,
                                          "without a value": rep.no_value,
                                          **{f"disabled {i + 1}": d for i, d in enumerate(rep.disabled)},
                                          **({"recovered": f"{fol.recovered} files of an unfinished step removed"}
                                             if fol.recovered else {})}, stream=sys.stderr)
    return 0
