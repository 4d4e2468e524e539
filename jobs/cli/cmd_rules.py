"""``watchlake rules check DIR``: validate detection rules and print their coverage.

Lists every rule file as parsed or unsupported (with the reason), and the rules that can never
fire (eventSource/eventName not in CloudTrail per botocore's service models, fields CloudTrail
records do not have, contradictory selections). With ``--lake``'s data, ``--fired`` also runs
the rules over the lake and lists those that matched nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("rules", help="validate detection rules", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    rs = p.add_subparsers(dest="rules_command", metavar="ACTION")
    c = rs.add_parser("check", help="parse rules and print coverage")
    c.add_argument("paths", nargs="*", metavar="DIR", help="rule folders or files (default: bundled rules)")
    c.add_argument("--fired", action="store_true", help="also run the rules over the lake: which never matched")
    c.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    c.set_defaults(func=run_check)
    p.set_defaults(func=lambda args, ctx: (p.print_help(), 2)[1])


def run_check(args: argparse.Namespace, ctx: Context) -> int:
    from collections import Counter

    from pipeline.console import summary
    from pipeline.detections.check import coverage
    from pipeline.detections.rules import BUNDLED, load_rules

    ruleset = load_rules(*(args.paths or [BUNDLED]))
    cov = {r.id: coverage(r) for r in ruleset.rules}
    never = {r.id: cov[r.id].never for r in ruleset.rules}
    fired: Counter[str] | None = None
    if args.fired:
        from pipeline.detections.grouping import match_counts
        from pipeline.query.duck import connect

        fired = Counter(match_counts(connect(ctx.lake, ["cloudtrail"]), ruleset.rules))
    if args.json:
        print(json.dumps({
            "parsed": [{"id": r.id, "title": r.title, "kind": r.kind, "path": r.path, "warnings": r.warnings,
                        "never_fires": never[r.id],
                        "dead_alternatives": cov[r.id].dead,
                        "suspicious": cov[r.id].suspicious, **({"matches": fired[r.id]} if fired is not None else {})}
                       for r in ruleset.rules],
            "unsupported": [{"path": p.path, "rule": p.rule, "reason": p.reason} for p in ruleset.problems],
            "disabled": [{"path": p.path, "rule": p.rule, "reason": p.reason} for p in ruleset.disabled],
        }, indent=1))
    else:
        kinds = Counter(r.kind for r in ruleset.rules)
        kinds.update(["disabled"] * len(ruleset.disabled))
        print(f"parsed: {len(ruleset.rules) + len(ruleset.disabled)} rules ("
              + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")")
        if ruleset.problems:
            print(f"unsupported: {len(ruleset.problems)}")
            for p in ruleset.problems:
                print(f"  {p.path.rsplit('/', 1)[-1]}: {p.reason}")
        if ruleset.disabled:
            print(f"disabled by watchlake-tuning.yml: {len(ruleset.disabled)}")
            for p in ruleset.disabled:
                print(f"  {p.path.rsplit('/', 1)[-1]}: {p.reason}")
        for label, attr in (("never fire", "never"), ("never-matching names or fields (rule still fires "
                                                           "through its other values)", "dead"),
                            ("suspicious", "suspicious")):
            bad = [r for r in ruleset.rules if getattr(cov[r.id], attr)]
            if bad:
                print(f"{label}: {len(bad)}")
                for r in bad:
                    for reason in getattr(cov[r.id], attr):
                        print(f"  {r.path.rsplit('/', 1)[-1]}: {reason}")
        warned = [r for r in ruleset.rules if r.warnings]
        if warned:
            print(f"warnings: {len(warned)}")
            for r in warned:
                for w in r.warnings:
                    print(f"  {r.path.rsplit('/', 1)[-1]}: {w}")
        if fired is not None:
            silent = [r for r in ruleset.rules if not fired[r.id]]
            print(f"matched nothing in the lake: {len(silent)} of {len(ruleset.rules)}")
    summary("rules check", {
        "files": ruleset.files, "parsed": len(ruleset.rules) + len(ruleset.disabled),
        "unsupported": len(ruleset.problems), "disabled": len(ruleset.disabled),
        "never fire": sum(1 for r in ruleset.rules if never[r.id]),
        "with dead names": sum(1 for r in ruleset.rules if cov[r.id].dead),
        **({"fired in lake": sum(1 for r in ruleset.rules if fired[r.id])} if fired is not None else {}),
    })
    return 1 if ruleset.problems else 0
