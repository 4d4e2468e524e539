"""``watchlake generate``: write realistic, seeded AWS data in the real formats.

``cloudtrail`` writes gzip ``{"Records": […]}`` files in the S3 layout (plus one digest file);
``metrics`` Metric Streams JSON objects; ``logs`` CloudWatch Logs subscription payloads as
Firehose delivers them; ``records`` ``aws kinesis get-records`` pages. Labels of the injected
attack scenarios / anomalies are written to ``<out>/_labels.json`` (the leading underscore keeps
readers from taking the labels for data when the folder is read back).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context

KINDS = ("cloudtrail", "metrics", "logs", "records")


def register(sub: Any) -> None:
    from pipeline.synthetic.scenarios import SCENARIOS

    p = sub.add_parser("generate", help="write realistic synthetic CloudTrail / metrics / logs / Kinesis data",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--out", required=True, metavar="PATH", help="output folder (created)")
    p.add_argument("--seed", type=int, default=1, help="random seed; same seed → same bytes (default 1)")
    p.add_argument("--start", default="2026-11-01T00:00:00Z", metavar="TIME",
                   help="window start, ISO 8601 (default 2026-11-01T00:00:00Z)")
    p.add_argument("--duration", default="1d", metavar="D", help="window length, e.g. 6h, 8d (default 1d)")
    p.add_argument("--rate", type=float, metavar="R",
                   help="mean events (cloudtrail), invocations (logs) or records (records) per second")
    p.add_argument("--scenarios", nargs="*", metavar="NAME",
                   help=f"cloudtrail attack scenarios on the last day: all, none or any of {', '.join(SCENARIOS)} "
                        "(default all); metrics: 'none' disables anomalies")
    p.add_argument("--window", default="5m", metavar="D",
                   help="cloudtrail: minutes of events per file and region, dividing 1h (default 5m)")
    p.set_defaults(func=run)


def _scenarios(names: list[str] | None) -> list[str]:
    from pipeline.errors import InputError
    from pipeline.synthetic.scenarios import SCENARIOS

    if names is None or names == ["all"]:
        return list(SCENARIOS)
    if names in ([], ["none"]):
        return []
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise InputError(f"unknown scenario (use all, none or {', '.join(SCENARIOS)})", field="scenarios",
                         value=unknown[0])
    return names


def run(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import timedelta
    from pathlib import Path

    import orjson

    from pipeline.console import Progress, human_bytes, human_count, summary
    from pipeline.errors import InputError
    from pipeline.synthetic import cloudtrail, logs, metrics, records
    from pipeline.timeutil import iso, parse_duration, parse_time

    start = parse_time(args.start)
    duration = parse_duration(args.duration)
    if duration <= 0:
        raise InputError("duration must be positive", field="duration", value=args.duration)
    if args.rate is not None and args.rate <= 0:
        raise InputError("rate must be positive", field="rate", value=args.rate)
    out = Path(args.out)
    rate = {} if args.rate is None else {"rate": args.rate}
    with Progress(f"generate {args.kind}", enabled=not ctx.quiet) as prog:
        if args.kind == "cloudtrail":
            window = parse_duration(args.window)
            if window <= 0 or 3600 % window:
                raise InputError("window must divide one hour (e.g. 5m, 15m, 1h)", field="window", value=args.window)
            res = cloudtrail.generate(out, seed=args.seed, start=start, duration_s=duration,
                                      scenarios=_scenarios(args.scenarios), window_s=window,
                                      progress=prog.advance, **rate)
        elif args.kind == "metrics":
            res = metrics.generate(out, seed=args.seed, start=start, duration_s=duration,
                                   anomalies=args.scenarios not in ([], ["none"]), progress=prog.advance)
        elif args.kind == "logs":
            res = logs.generate(out, seed=args.seed, start=start, duration_s=duration, progress=prog.advance, **rate)
        else:
            res = records.generate(out, seed=args.seed, start=start, duration_s=duration, progress=prog.advance,
                                   **rate)
    out.mkdir(parents=True, exist_ok=True)
    (out / "_labels.json").write_bytes(orjson.dumps(res.labels, option=orjson.OPT_INDENT_2) + b"\n")
    unit = {"cloudtrail": "events", "metrics": "datapoints", "logs": "log events", "records": "records"}[args.kind]
    rows = {unit: human_count(res.events), "files": human_count(res.files), "bytes": human_bytes(res.bytes),
            "window": f"{iso(start)} → {iso(start + timedelta(seconds=duration))}",
            "seed": args.seed, "out": str(out)}
    if args.kind in ("cloudtrail", "metrics"):
        rows["labels"] = f"{len(res.labels)} in {out / '_labels.json'}"
    summary(f"generated {args.kind}", rows)
    return 0
