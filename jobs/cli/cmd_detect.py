"""``watchlake detect``: run detection rules over the lake's CloudTrail events.

Retroactive (default): one DuckDB scan over ``--from``/``--to`` evaluates every rule; findings
are merged into the ``findings`` table. ``--follow``: watch the table for newly committed files
and evaluate them with the Python engine as they arrive.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("detect", help="run Sigma / EventBridge / rate rules over CloudTrail events",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", action="append", metavar="DIR",
                   help="rule folder or file (repeatable; default: the bundled rules)")
    p.add_argument("--from", dest="start", metavar="T", help="start time (ISO, epoch, -7d); default: all")
    p.add_argument("--to", dest="end", metavar="T", help="end time, exclusive; default: all")
    p.add_argument("--follow", action="store_true", help="evaluate new committed files as they are loaded")
    p.add_argument("--from-start", action="store_true", help="with --follow: also process files already there")
    p.add_argument("--interval", type=float, default=5.0, help="with --follow: seconds between polls (5)")
    p.add_argument("--iterations", type=int, default=None, help="with --follow: stop after N polls")
    p.add_argument("--dry-run", action="store_true", help="do not write findings")
    p.add_argument("--notify", metavar="TOPIC", help="publish each finding to this SNS-like topic")
    p.add_argument("--show", type=int, default=20, metavar="N", help="print the first N findings (20)")
    p.set_defaults(func=run)


def _print_findings(findings: list[Any], limit: int) -> None:
    for f in findings[:limit]:
        first = f.first
        who = first.principal or "-"
        who = who if len(who) <= 50 else who[:24] + "…" + who[-25:]
        print(f"{first.time:%Y-%m-%dT%H:%M:%SZ}  {f.rule.level:<8} {f.rule.title[:44]:<44} "
              f"{f.event_count:>4} ev  {who}  {first.source_ip or '-'}")
    if len(findings) > limit:
        print(f"… {len(findings) - limit} more (query the `findings` view)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.detect_job import Follower, run_retro
    from jobs.follow import Schedule, follow, stop_on_signals
    from pipeline.console import Progress, summary
    from pipeline.detections.rules import BUNDLED, load_rules
    from pipeline.errors import RuleError
    from pipeline.timeutil import parse_time

    ruleset = load_rules(*(args.rules or [BUNDLED]))
    for p in ruleset.problems:
        print(f"watchlake: rule skipped: {p.path}: {p.reason}", file=sys.stderr)
    if not ruleset.rules:
        raise RuleError("-", "no usable rules", path=", ".join(args.rules or [str(BUNDLED)]))
    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    if args.follow:
        fol = Follower(ctx.lake, ruleset.rules, from_start=args.from_start, notify_topic=args.notify)
        polls = 0
        with stop_on_signals() as stop, Progress("detect --follow: events", enabled=not ctx.quiet) as prog:
            for rep in follow(fol.poll, Schedule(args.interval), iterations=args.iterations, stop=stop):
                polls += 1
                prog.advance(rep.events, f"{fol.open.size()['open_findings']} open findings")
                _print_findings(rep.changed, args.show)
                for line in rep.notify_errors:
                    print(f"watchlake: not notified: {line}", file=sys.stderr)
        summary("detect --follow", {"rules": len(ruleset.rules), "unusable rules": len(ruleset.problems),
                                    "polls": polls, "events": f"{fol.events:,}",
                                    "open findings": fol.open.size()["open_findings"]})
        return 0
    res = run_retro(ctx.lake, ruleset.rules, start, end, write=not args.dry_run, notify_topic=args.notify)
    _print_findings(res.findings, args.show)
    by_level = Counter(f.rule.level for f in res.findings)
    summary("detect", {
        "rules": f"{len(ruleset.rules)} ({len(ruleset.problems)} unusable, {len(ruleset.disabled)} disabled)",
        "events scanned": f"{res.events:,}",
        "matches": f"{res.match_count:,}",
        "findings": f"{len(res.findings)} ("
                    + ", ".join(f"{by_level[lv]} {lv}" for lv in ("critical", "high", "medium", "low",
                                                                   "informational") if by_level[lv]) + ")",
        "rules fired": len({f.rule.id for f in res.findings}),
        "written": "no (dry run)" if args.dry_run else f"{res.written} rows to findings/",
    })
    return 0
