"""``watchlake ddl``: CREATE TABLE statements so Athena, Trino or Spark can query the lake in place."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("ddl", help="CREATE TABLE statements for Athena, Trino or Spark over the lake",
                       description="Print CREATE TABLE statements (Hive partitions, the lake's column "
                       "types; partition projection for Athena) for every lake table, so a bigger engine "
                       "can query the lake where it lies.")
    p.add_argument("--engine", choices=["athena", "trino", "spark"], default="athena")
    p.add_argument("--location", metavar="URI", help="lake root as the engine sees it (default: the lake root)")
    p.add_argument("--database", default="watchlake", help="database / schema name (default watchlake)")
    p.add_argument("--table", action="append", metavar="VIEW", help="only these tables (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.query.ddl import create_statements

    print(create_statements(args.engine, args.location or ctx.lake.uri(), database=args.database,
                            tables=args.table), end="")
    return 0
