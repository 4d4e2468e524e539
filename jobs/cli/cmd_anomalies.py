"""``watchlake anomalies``: detect metric anomalies in the lake, or score one CSV series.

* ``anomalies detect`` — run the streaming detector over a rollup table and write the
  ``anomalies`` table (replay a range with ``--start/--end``, or follow new data);
* ``anomalies score --input FILE --output OUT.csv`` — NAB CSV (or the AWS CLI's CloudWatch JSON)
  in, NAB format out; a folder in, the same tree of results out (:mod:`jobs.anomaly_score`);
* ``anomalies insights`` — CloudTrail Insights (call-rate and error-rate) into ``insights``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
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
                     "get-metric-statistics JSON), or every one below a folder")
    c.add_argument("--input", required=True, help="CSV with columns timestamp,value (found by header; "
                   "see README), or the JSON `aws cloudwatch get-metric-data` / `get-metric-statistics` prints; "
                   "or a folder: every .csv/.json below it")
    c.add_argument("--series", help="get-metric-data output with several results: the Id or Label to score")
    c.add_argument("--stat", help="the statistic to score: of get-metric-statistics output holding several, "
                   "or the CSV column of that name (Average, Maximum, p99 …)")
    c.add_argument("--output", required=True, help="CSV timestamp,value,anomaly_score (a folder, for a folder: "
                   "the same tree; exit 1 if a file was refused, the others scored)")
    c.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTORS, help=DETECTOR_HELP)
    c.add_argument("--band", action="store_true", help="also write expected,lower,upper: the band "
                   "ANOMALY_DETECTION_BAND(m, 2) draws (empty in the warm-up and on rows with no number)")
    c.set_defaults(func=run_score)

    i = s.add_parser("insights", help="CloudTrail Insights from the raw cloudtrail table")
    i.add_argument("--start", help="first minute analysed (default: all data)")
    i.add_argument("--end", help="end of analysis (exclusive)")
    i.set_defaults(func=run_insights)


def run_score(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.anomaly import DEFAULT_THRESHOLD
    from pipeline.console import Progress, summary

    if Path(args.input).is_dir():
        return _score_tree(args, ctx)
    from jobs.anomaly_score import score_file

    with Progress("anomalies score: points", None, enabled=not ctx.quiet) as prog:
        def known(n: int) -> None:
            prog.total = n  # once the file is read

        done = score_file(args.input, args.output, detector=args.detector, series=args.series, stat=args.stat,
                          band=args.band, progress=prog.advance, total=known)
    if not ctx.quiet:
        summary("anomalies score", {
            "input": f"{args.input} ({done.rows:,} row{'' if done.rows == 1 else 's'})",
            "output": args.output,
            "detector": args.detector,
            f"anomalies (score ≥ {DEFAULT_THRESHOLD})": len(done.flagged),
            "top": _top(done.flagged),
            **{f"note {i + 1}": note for i, note in enumerate(done.notes)},
        })
    return 0


def _top(flagged: list[tuple[float, str]]) -> str:
    """The three highest ``(score, where)`` of a summary, or "-"."""
    return ", ".join(f"{r} ({s:.2f})" for s, r in sorted(flagged, reverse=True)[:3]) or "-"


#: Notes printed by a folder's summary (the rest are counted).
TREE_NOTES = 10


def _score_tree(args: argparse.Namespace, ctx: Context) -> int:
    """``anomalies score`` of a folder (:func:`jobs.anomaly_score.score_tree`); exits 1 when a file
    was refused (the others are scored)."""
    from jobs.anomaly_score import score_tree, series_files
    from pipeline.anomaly import DEFAULT_THRESHOLD
    from pipeline.console import Progress, summary

    files = series_files(Path(args.input), skip=Path(args.output))
    total = len(files)
    with Progress("anomalies score: files", total, enabled=not ctx.quiet) as prog:
        tree = score_tree(args.input, args.output, detector=args.detector, series=args.series, stat=args.stat,
                          band=args.band, files=files, each=lambda _: prog.advance(1))
    if not ctx.quiet:
        rows = sum(f.rows for f in tree.scored)
        rel = {f.path: f.path.relative_to(args.input) for f in tree.scored}
        flagged = [(s, f"{rel[f.path]} {r}") for f in tree.scored for s, r in f.flagged]
        notes = [f"{rel[f.path]}: {n}" for f in tree.scored for n in f.notes]
        summary("anomalies score", {
            "input": f"{args.input} ({total:,} files: {len(tree.scored):,} scored, {len(tree.refused):,} refused; "
                     f"{rows:,} rows)",
            "output": args.output,
            "detector": args.detector,
            f"anomalies (score ≥ {DEFAULT_THRESHOLD})": f"{len(flagged):,} in "
                                                        f"{sum(1 for f in tree.scored if f.flagged):,} files",
            "top": _top(flagged),
            **{f"refused {i + 1}": why for i, (_, why) in enumerate(tree.refused)},
            **{f"note {i + 1}": n for i, n in enumerate(notes[:TREE_NOTES])},
            **({"notes": f"+{len(notes) - TREE_NOTES} more"} if len(notes) > TREE_NOTES else {}),
        })
    return 1 if tree.refused else 0


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
