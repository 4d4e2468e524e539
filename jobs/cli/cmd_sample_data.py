"""``watchlake sample-data``: regenerate the committed, seeded sample data set."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("sample-data", help="regenerate the committed sample data (sample_data/)",
                       description="Rewrite sample_data/{cloudtrail,metrics,logs,records,labels} from the "
                       "fixed seed; other folders (alarms/, rules/) and README.md are left alone.")
    ps = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = ps.add_parser("regenerate", help="rewrite the generated folders from the fixed seed")
    r.add_argument("--out", default="sample_data", metavar="PATH", help="sample data root (default sample_data)")
    r.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from pipeline.console import human_bytes, human_count, summary
    from pipeline.synthetic.sample import SEED, regenerate

    s = regenerate(Path(args.out))
    summary("sample data regenerated", {
        "seed": SEED, "cloudtrail events": f"{human_count(s.cloudtrail_events)} in {s.cloudtrail_files} files",
        "metric datapoints": human_count(s.metric_datapoints), "log events": human_count(s.log_events),
        "kinesis records": human_count(s.kinesis_records), "bytes": human_bytes(s.bytes),
        "labels": f"{args.out}/labels/", "out": args.out})
    return 0
