"""``watchlake investigate``: run a saved investigation (``--list`` shows them all)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline.errors import QueryError

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    from jobs.cli.cmd_sql import add_output_args

    p = sub.add_parser("investigate", help="run a saved investigation (--list to see them)",
                       description="Run a named, parameterised investigation over CloudTrail "
                       "(principal activity, assumed-role sessions, resource changes, root usage, "
                       "console logins without MFA, new keys and users, AccessDenied/throttling, "
                       "unusual regions, top write callers, security configuration changes), or one of "
                       "your own (*.sql or Logs Insights *.insights files in the folder that "
                       "query.investigations_dir names). Every investigation takes start/end (default: "
                       "the 30 days up to the newest data) and limit.")
    p.add_argument("name", nargs="?", help="investigation name")
    p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter value (repeatable)")
    p.add_argument("--list", action="store_true", help="list the investigations with their parameters")
    p.add_argument("--show-sql", action="store_true", help="print the rendered SQL instead of running it")
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.cli.cmd_sql import emit
    from pipeline.query import investigations as inv

    folder = ctx.settings.query.investigations_dir
    if args.list or not args.name:
        for item in inv.catalog(user_folder=folder).values():
            lang = "Logs Insights" if item.kind == "insights" else "SQL"
            origin = f"  [{'yours' if item.user else 'built-in'}, {lang}]"
            print(f"{item.name}{origin}\n    {item.description}")
            for p in item.params.values():
                default = f" = {p.default}" if p.default is not None else " (required)"
                print(f"    --param {p.name}=<{p.type}>{default}  {p.description}")
        return 0
    values = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise QueryError(f"--param expects KEY=VALUE (got {item!r})")
        values[key.strip()] = value
    if args.show_sql:
        sql, _ = inv.render(inv.get(args.name, folder), values, now=inv.reference_time(ctx.lake))
        print(sql.strip())
        return 0
    result = inv.run_investigation(ctx.lake, args.name, values,
                                   max_rows=args.max_rows or ctx.settings.query.max_rows, user_folder=folder)
    emit(result, args.format, args.output, quiet=ctx.quiet)
    return 0
