"""``watchlake metrics get|data|list``: GetMetricData- and ListMetrics-style queries on the tiers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from pipeline.errors import InputError

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("metrics", help="query rolled-up metrics (get, data, list)",
                       description="Query the 1m/5m/1h metric tiers like CloudWatch "
                       "GetMetricData and ListMetrics.")
    msub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    g = msub.add_parser("get", help="one statistic of one series over a time range",
                        description="The tier and (unless --period) the period are chosen as "
                        "CloudWatch does: data older than 15 days only at 5 minutes or coarser, "
                        "older than 63 days only at 1 hour, at most --max-points points. Start "
                        "inclusive, end exclusive; timestamps are period starts in UTC.")
    g.add_argument("--namespace", required=True)
    g.add_argument("--metric", required=True, help="metric name")
    g.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                   help="a dimension (repeat for each; the exact set identifies the series)")
    g.add_argument("--stat", default="Average",
                   help="SampleCount, Sum, Minimum, Maximum, Average or pNN (p99, p99.9)")
    g.add_argument("--start", default="-3h", help="ISO time, epoch or relative (-3h); default -3h")
    g.add_argument("--end", default="now", help="default now")
    g.add_argument("--period", type=int, help="seconds (a multiple of 60); default from the range")
    g.add_argument("--unit", help="CloudWatch unit, when the series has several")
    g.add_argument("--max-points", type=int, default=1440)
    g.add_argument("--now", help="the query's clock: a time, or `data` for the newest data in "
                   "the lake (default: the wall clock)")
    g.add_argument("--format", choices=["table", "csv", "json"], default="table")
    g.set_defaults(func=run_get)
    d = msub.add_parser("data", help="a GetMetricData request: several queries and metric math",
                        description="Answer a GetMetricData request document (what `aws cloudwatch "
                        "get-metric-data --cli-input-json` takes: MetricDataQueries with MetricStat or "
                        "Expression, StartTime, EndTime, ScanBy, MaxDatapoints) with its response "
                        "(MetricDataResults, Messages).")
    d.add_argument("request", help="the request, a JSON or YAML file")
    d.add_argument("--now", help="the query's clock: a time, or `data` for the newest data in the lake")
    d.add_argument("--format", choices=["table", "json"], default="json")
    d.set_defaults(func=run_data)
    ls = msub.add_parser("list", help="every rolled-up series")
    ls.add_argument("--namespace")
    ls.add_argument("--format", choices=["table", "csv", "json"], default="table")
    ls.set_defaults(func=run_list)


def _dims(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError("expected NAME=VALUE", field="--dim", value=pair)
        out[name] = value
    return out


def run_get(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.query.metrics import get_metric_data
    from pipeline.timeutil import iso, parse_time

    now = None
    if args.now == "data":
        from pipeline.rollup.state import data_clock  # here: it imports pyarrow (0.1 s)

        now = data_clock(ctx.lake)
    elif args.now:
        now = parse_time(args.now)
    start, end = parse_time(args.start, now=now), parse_time(args.end, now=now)
    t0 = time.perf_counter()
    md = get_metric_data(ctx.lake, args.namespace, args.metric, _dims(args.dim), args.stat, start, end,
                         args.period, max_points=args.max_points, unit=args.unit, now=now)
    ms = (time.perf_counter() - t0) * 1000
    if args.format == "json":
        print(json.dumps({"Label": md.label, "Stat": md.stat, "Unit": md.unit, "Period": md.period,
                          "Tier": md.tier, "Timestamps": [iso(t) for t in md.timestamps],
                          "Values": md.values, "Messages": md.messages}, indent=1))
    elif args.format == "csv":
        print("timestamp,value")
        for t, v in zip(md.timestamps, md.values):
            print(f"{iso(t)},{v!r}")
    else:
        print(f"{'timestamp':<21} {md.stat}")
        for t, v in zip(md.timestamps, md.values):
            print(f"{iso(t):<21} {v:.6g}")
    if not ctx.quiet:
        summary("metrics get", {"series": f"{args.namespace} {args.metric} {_dims(args.dim)}",
                                "tier": md.tier, "period": f"{md.period} s",
                                "range": f"{iso(md.start or start)} – {iso(md.end or end)}",
                                "points": str(len(md.values)), "unit": str(md.unit),
                                "time": f"{ms:.0f} ms", **({"note": md.messages[0]} if md.messages else {})},
                stream=sys.stderr)
    return 0


def _clock(ctx: Context, value: str | None) -> Any:
    from pipeline.timeutil import parse_time

    if value == "data":
        from pipeline.rollup.state import data_clock  # here: it imports pyarrow (0.1 s)

        return data_clock(ctx.lake)
    return parse_time(value) if value else None


def run_data(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.documents import read_document
    from pipeline.query.metricdata import metric_data_request

    doc = read_document(args.request, "GetMetricData request file")
    if not isinstance(doc, dict):
        raise InputError("a GetMetricData request must be a mapping", path=args.request)
    t0 = time.perf_counter()
    out = metric_data_request(ctx.lake, doc, now=_clock(ctx, args.now))
    ms = (time.perf_counter() - t0) * 1000
    if args.format == "json":
        print(json.dumps(out, indent=1))
    else:
        for r in out["MetricDataResults"]:
            print(f"{r['Id']}  {r['Label']}")
            for t, v in zip(r["Timestamps"], r["Values"], strict=True):
                print(f"  {t:<21} {v:.6g}")
    if not ctx.quiet:
        results = out["MetricDataResults"]
        summary("metrics data", {"request": args.request, "results": str(len(results)),
                                 "points": str(sum(len(r["Values"]) for r in results)), "time": f"{ms:.0f} ms",
                                 **({"note": out["Messages"][0]["Value"]} if out["Messages"] else {})},
                stream=sys.stderr)
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.query.metrics import list_metrics

    ms = list_metrics(ctx.lake, args.namespace)
    if args.format == "json":
        print(json.dumps([{"Namespace": m.namespace, "MetricName": m.metric_name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions.items()],
                           "Unit": m.unit} for m in ms], indent=1))
        return 0
    sep = "," if args.format == "csv" else "\t"
    print(sep.join(["namespace", "metric", "dimensions", "unit"]))
    for m in ms:
        dims = " ".join(f"{k}={v}" for k, v in m.dimensions.items())
        print(sep.join([m.namespace, m.metric_name, f'"{dims}"' if sep == "," else dims, m.unit]))
    if not ctx.quiet:
        print(f"{len(ms)} series", file=sys.stderr)
    return 0
