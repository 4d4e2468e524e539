"""``watchlake sql``: read-only SQL over the lake's views, one query or an interactive prompt.

Output formats: an aligned text table (default), CSV, JSON (one array of objects) or Parquet
(``--output`` required). Notes about how the query ran (a default time bound, truncation) go to
stderr so that stdout stays clean data. :func:`emit` is shared by ``investigate`` and ``insights``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pipeline.errors import PipelineError, QueryError

if TYPE_CHECKING:
    from jobs.cli import Context

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeline.query.duck import QueryResult

HISTORY_FILE = "~/.watchlake_sql_history"


def register(sub: Any) -> None:
    p = sub.add_parser("sql", help="read-only SQL over the lake (DuckDB views)",
                       description="Run one read-only SQL query over the lake's views (cloudtrail, "
                       "metrics_raw, metrics_1m/5m/1h, logs, records, alarm_state, alarm_history, "
                       "anomalies, insights, findings, rejected), or open an interactive prompt "
                       "when no query is given. Writes, COPY, ATTACH/INSTALL/LOAD/SET/PRAGMA and "
                       "files outside the lake are refused.")
    p.add_argument("query", nargs="?", help="SQL text (omit for the interactive prompt)")
    add_output_args(p)
    p.add_argument("--all-time", action="store_true",
                   help="no default time bound on large tables (query.default_bound_hours)")
    p.add_argument("--tables", action="store_true", help="list the views and their columns")
    p.set_defaults(func=run)


def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
    p.add_argument("--output", "-o", metavar="FILE", help="write the result to FILE instead of stdout")
    p.add_argument("--max-rows", type=int, default=None, help="row limit (default query.max_rows)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.query.duck import run_query

    if args.tables:
        print(describe_views(ctx.lake))
        return 0
    bound = None if args.all_time else ctx.settings.query.default_bound_hours
    max_rows = args.max_rows or ctx.settings.query.max_rows
    if args.query is None:
        return interactive(ctx, bound, max_rows)
    q = ctx.settings.query
    result = run_query(ctx.lake, args.query, default_bound_hours=bound, max_rows=max_rows,
                       timeout_seconds=q.timeout_seconds, memory_limit_mib=q.memory_limit_mib)
    emit(result, args.format, args.output, quiet=ctx.quiet)
    return 0


def describe_views(lake: Any) -> str:
    """Every view with its description and columns (name and DuckDB type)."""
    import duckdb

    from pipeline.query import catalog

    con = duckdb.connect()
    time_cols = catalog.build(con, lake)
    out = []
    for name, spec in catalog.VIEWS.items():
        out.append(f"{name}  — {spec.description}" + (f" (time: {time_cols[name]})" if time_cols[name] else ""))
        for col, typ, *_ in con.execute(f'DESCRIBE "{name}"').fetchall():
            out.append(f"    {col:<34} {typ if len(typ) < 70 else typ[:67] + '...'}")
    return "\n".join(out)


def emit(result: QueryResult, fmt: str, output: str | None, *, quiet: bool = False,
         stream: IO[str] | None = None) -> None:
    """Write ``result`` in ``fmt`` to ``output`` (or stdout) and its notes + row count to stderr."""
    if fmt == "parquet":
        if not output:
            raise QueryError("--format parquet needs --output FILE")
        import pyarrow.parquet as pq

        pq.write_table(result.table, output, compression="zstd")
    else:
        text = render(result.table, fmt)
        if output:
            Path(output).write_text(text)
        else:
            (stream or sys.stdout).write(text)
    if not quiet:
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"({result.table.num_rows} row{'s' if result.table.num_rows != 1 else ''}, "
              f"{result.seconds * 1000:.0f} ms)" + (f" → {output}" if output else ""), file=sys.stderr)


def render(table: pa.Table, fmt: str) -> str:
    """``table`` as an aligned text table, CSV or JSON text (ends with a newline)."""
    rows = [dict(zip(table.column_names, r)) for r in zip(*(c.to_pylist() for c in table.columns))]
    if fmt == "json":
        return json.dumps(rows, default=_json_default, indent=1) + "\n"
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(table.column_names)
        for r in rows:
            w.writerow([_cell(v) for v in r.values()])
        return buf.getvalue()
    cells = [[_cell(v, 60) for v in r.values()] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(table.column_names)]
    line = "  ".join(c.ljust(w) for c, w in zip(table.column_names, widths))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(out) + "\n"


def _cell(v: Any, width: int | None = None) -> str:
    if v is None:
        text = "" if width is None else "NULL"
    elif isinstance(v, datetime):
        text = v.isoformat().replace("+00:00", "Z")
    elif isinstance(v, dict | list):
        text = json.dumps(v, default=_json_default)
    else:
        text = str(v)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def interactive(ctx: Context, bound: int | None, max_rows: int, *, stdin: IO[str] | None = None) -> int:
    """A prompt with readline history (``~/.watchlake_sql_history``); ``;`` ends a query.

    Meta commands: ``.tables`` lists the views, ``.help``, ``.quit`` (or end of input).
    """
    import functools

    from pipeline.query import duck

    q = getattr(getattr(ctx, "settings", None), "query", None)
    run_query = functools.partial(duck.run_query, timeout_seconds=q.timeout_seconds,
                                  memory_limit_mib=q.memory_limit_mib) if q is not None else duck.run_query

    history = os.path.expanduser(HISTORY_FILE)
    tty = stdin is None and sys.stdin.isatty()
    readline: Any = None
    if tty:
        try:
            import readline
            if os.path.exists(history):
                readline.read_history_file(history)
        except (ImportError, OSError):
            readline = None
        print("watchlake sql — read-only; end a query with ';'. .tables, .help, .quit", file=sys.stderr)
    src = stdin or sys.stdin
    buf: list[str] = []
    while True:
        try:
            line = input("watchlake> " if not buf else "      ...> ") if tty else src.readline()
        except EOFError:
            break
        if not tty and line == "":
            break
        stripped = line.strip()
        if not buf and stripped in (".quit", ".exit", "\\q"):
            break
        if not buf and stripped == ".tables":
            print(describe_views(ctx.lake))
            continue
        if not buf and stripped == ".help":
            print("Views: " + ", ".join(_view_names()) + ". End a query with ';'.")
            continue
        if not stripped:
            continue
        buf.append(line.rstrip("\n"))
        if not stripped.endswith(";"):
            continue
        query, buf = "\n".join(buf), []
        try:
            emit(run_query(ctx.lake, query, default_bound_hours=bound, max_rows=max_rows), "table", None)
        except PipelineError as exc:
            print(f"error: {exc}", file=sys.stderr)
    if buf:
        try:
            emit(run_query(ctx.lake, "\n".join(buf), default_bound_hours=bound, max_rows=max_rows), "table", None)
        except PipelineError as exc:
            print(f"error: {exc}", file=sys.stderr)
    if readline is not None:
        try:
            readline.set_history_length(1000)
            readline.write_history_file(history)
        except OSError:
            pass
    return 0


def _view_names() -> list[str]:
    from pipeline.query.catalog import VIEWS

    return list(VIEWS)
