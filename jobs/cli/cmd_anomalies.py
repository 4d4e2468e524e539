"""``watchlake anomalies``: detect metric anomalies in the lake, or score one CSV series.

* ``anomalies detect`` — run the streaming detector over a rollup table and write the
  ``anomalies`` table (replay a range with ``--start/--end``, or follow new data);
* ``anomalies score --input FILE --output OUT.csv`` — NAB CSV (or the AWS CLI's CloudWatch JSON)
  in, NAB format out;
* ``anomalies insights`` — CloudTrail Insights (call-rate and error-rate) into ``insights``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    from pipeline.anomaly import DEFAULT_DETECTOR, DETECTORS

    DETECTOR_HELP = (f"default {DEFAULT_DETECTOR} (what every stage uses); the others are the "
                     "alternatives measured in benchmarks/anomaly-experiments.md")
    p = sub.add_parser("anomalies", help="metric anomaly detection and CloudTrail Insights",
                       description="Streaming anomaly detection on metric rollups, NAB-format "
                       "scoring of one CSV series, and CloudTrail Insights.")
    s = p.add_subparsers(dest="anomalies_cmd", metavar="ACTION", required=True)

    d = s.add_parser("detect", help="score metric rollups and write the anomalies table")
    d.add_argument("--table", default="metrics_5m", choices=["metrics_5m", "metrics_1m"])
    d.add_argument("--stat", default="Average",
                   choices=["Average", "Sum", "Minimum", "Maximum", "SampleCount"])
    d.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTORS, help=DETECTOR_HELP)
    d.add_argument("--threshold", type=float, default=None,
                   help="score at or above which a point is an anomaly (default 0.5)")
    d.add_argument("--namespace", help="only this namespace")
    d.add_argument("--metric", help="only this metric name")
    d.add_argument("--unit", action="append", help="only series with this unit (repeatable), "
                   "e.g. --stat Sum --unit Count for count metrics")
    d.add_argument("--start", help="replay from this time (trains on the 14 days before)")
    d.add_argument("--end", help="replay up to this time (exclusive; default: all data)")
    d.add_argument("--follow", action="store_true", help="keep scoring new data")
    d.add_argument("--interval", default="60s", help="follow poll interval (default 60s)")
    d.add_argument("--engine", default="python", choices=["python", "flink"],
                   help="python (default) or a PyFlink streaming job (same scores)")
    d.set_defaults(func=run_detect)

    c = s.add_parser("score", help="score one series (NAB CSV, or AWS CLI get-metric-data / "
                     "get-metric-statistics JSON)")
    c.add_argument("--input", required=True, help="CSV with columns timestamp,value (found by header; "
                   "see README), or the JSON `aws cloudwatch get-metric-data` / `get-metric-statistics` prints")
    c.add_argument("--series", help="get-metric-data output with several results: the Id or Label to score")
    c.add_argument("--stat", help="the statistic to score: of get-metric-statistics output holding several, "
                   "or the CSV column of that name (Average, Maximum, p99 …)")
    c.add_argument("--output", required=True, help="CSV timestamp,value,anomaly_score")
    c.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTORS, help=DETECTOR_HELP)
    c.set_defaults(func=run_score)

    i = s.add_parser("insights", help="CloudTrail Insights from the raw cloudtrail table")
    i.add_argument("--start", help="first minute analysed (default: all data)")
    i.add_argument("--end", help="end of analysis (exclusive)")
    i.set_defaults(func=run_insights)


def run_score(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.anomaly import DEFAULT_THRESHOLD
    from pipeline.anomaly.series_io import read_series, run_detector, write_scores
    from pipeline.console import Progress, summary

    series = read_series(args.input, series=args.series, stat=args.stat)
    with Progress("anomalies score: points", len(series.values), enabled=not ctx.quiet) as prog:
        scores = run_detector(series, args.detector, progress=prog.advance)
    n = write_scores(args.output, series, scores)
    notes = list(series.notes)
    if args.detector == "context":
        from pipeline.anomaly.context import GAP, MUTE, muted_rows

        order = series.order
        starts = muted_rows([series.times[i] for i in order], [series.values[i] for i in order], starts=True)
        if starts:
            first = ", ".join(series.raw_times[order[k]] for k in starts[:3])
            notes.append(f"gap of more than {GAP:g} sampling intervals ×{len(starts)}: the sequence and "
                         f"resonance judges sat out the next {MUTE} values (first after: {first}"
                         f"{', …' if len(starts) > 3 else ''})")
    flagged = [(s.score, r) for s, r in zip(scores, series.raw_times, strict=True)
               if s.score >= DEFAULT_THRESHOLD]
    if not ctx.quiet:
        summary("anomalies score", {
            "input": f"{args.input} ({n:,} row{'' if n == 1 else 's'})",
            "output": args.output,
            "detector": args.detector,
            f"anomalies (score ≥ {DEFAULT_THRESHOLD})": len(flagged),
            "top": ", ".join(f"{r} ({s:.2f})" for s, r in sorted(flagged, reverse=True)[:3])
            or "-",
            **{f"note {i + 1}": note for i, note in enumerate(notes)},
        })
    return 0


def run_detect(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.anomaly_job import detect, job_key, state_summary
    from jobs.follow import Schedule, follow, stop_on_signals
    from pipeline.anomaly import DEFAULT_THRESHOLD
    from pipeline.console import Progress, summary
    from pipeline.timeutil import parse_duration, parse_time

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    kw: dict[str, Any] = dict(table=args.table, stat=args.stat, detector=args.detector,
                              threshold=threshold, namespace=args.namespace,
                              metric=args.metric, units=args.unit)
    key = job_key(args.detector, args.table, args.stat)
    if args.engine == "flink":
        from pipeline.errors import require

        require("pyflink", "flink", "the Flink anomaly job")
        from jobs.flink_anomaly import run_flink

        _print(ctx, args, run_flink(ctx.lake, start=start, end=end, **kw), threshold, key + "-flink")
        return 0

    def step() -> Any:
        with Progress("anomalies detect: series", enabled=not ctx.quiet) as prog:
            return detect(ctx.lake, start=start, end=end, progress=prog, **kw)

    following = args.follow and start is None  # a replay (--start) is one pass
    with stop_on_signals() as stop:
        for res in follow(step, Schedule(parse_duration(args.interval)), stop=stop,
                          iterations=None if following else 1):
            _print(ctx, args, res, threshold, key)
    if start is None and not ctx.quiet:
        summary("follow state", {"saved": state_summary(ctx.lake, key)})
    return 0


def _print(ctx: Context, args: argparse.Namespace, res: Any, threshold: float, key: str) -> None:
    from pipeline.console import summary

    if ctx.quiet:
        return
    summary("anomalies detect", {
        "mode": "replay" if args.start else "follow (incremental)",
        "source": f"{args.table} {args.stat}",
        "detector": f"{args.detector} (threshold {threshold}, engine {args.engine})",
        "series": res.series,
        "points scored": res.points,
        "rows written": f"{res.rows} into anomalies ({res.files} files, key {key})",
        "anomalies": res.anomalies,
        "top": "; ".join(f"{m} @ {t:%Y-%m-%d %H:%M} ({s:.2f})" for s, m, t in res.top[:3])
        or "-",
        **({"points rejected": f"{len(res.rejected)} (the detector raised; kept in errors/anomalies/)"}
           if res.rejected else {}),
        **({"states reset": f"{len(res.reset)} (not restorable, or the detector raised; started afresh): "
                            + "; ".join(res.reset[:2]) + (" …" if len(res.reset) > 2 else "")}
           if res.reset else {}),
    })


def run_insights(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.anomaly.insights import run_insights as run
    from pipeline.console import summary
    from pipeline.timeutil import parse_time

    res = run(ctx.lake, start=parse_time(args.start) if args.start else None,
              end=parse_time(args.end) if args.end else None)
    if not ctx.quiet:
        summary("anomalies insights", res.summary())
    return 0
