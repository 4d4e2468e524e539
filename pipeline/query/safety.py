"""Read-only, lake-confined SQL: statement checks and time-bound analysis.

Two independent layers keep the SQL console from writing or leaving the lake:

1. **Parsing** (this module): the text is split by DuckDB's own parser
   (``duckdb.extract_statements``); exactly one statement is allowed and it must be a ``SELECT``
   (which includes ``FROM t``, ``WITH …``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``, ``VALUES``) or
   an ``EXPLAIN`` of one. The statement is then serialised to its syntax tree
   (``json_serialize_sql``), and every table function that reads files (``read_parquet``,
   ``read_csv``, ``read_text``, ``glob`` …) must name constant paths that resolve — after
   ``..`` and symlinks — inside the lake root; other side-channel functions are refused by name.
   Paths are resolved the way DuckDB opens them (relative to the working folder), every element
   of a list argument is checked, a glob is normalised before its fixed prefix is checked, and a
   file named in ``FROM '/path/file.parquet'`` (DuckDB's replacement scan) is checked like a
   ``read_*`` argument.
2. **DuckDB's own switches** (:func:`lock_down`): after the views exist, the connection gets
   ``temp_directory = ''`` (DuckDB otherwise adds its temp folder, ``./.tmp``, to the allowed
   directories, so a file there would be readable; without it nothing spills to disk and
   ``memory_limit`` is a hard limit), ``memory_limit``, ``allowed_directories = [lake]``,
   ``enable_external_access = false`` and ``lock_configuration = true``, so even a bypass of
   layer 1 cannot read outside the lake, install or load extensions, or turn the switches back on.
3. **Time** (:class:`pipeline.query.duck.deadline`): DuckDB has no statement timeout; a timer
   thread calls ``interrupt()`` on the connection when ``query.timeout_seconds`` have passed.

:func:`analyse` also finds the time bounds a query places on each lake view (conjuncts of its
``WHERE`` clauses comparing the view's time column, or ``dt``, with a constant expression), which
the catalogue uses to prune partitions and to decide whether a default bound is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.errors import QueryError
from pipeline.timeutil import to_utc

if TYPE_CHECKING:
    import duckdb

FILE_FUNCTIONS = frozenset({
    "read_parquet", "parquet_scan", "read_csv", "read_csv_auto", "csv_scan", "read_json",
    "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
    "read_ndjson_auto", "read_ndjson_objects", "read_text", "read_blob", "glob",
    "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata",
    "parquet_bloom_probe", "sniff_csv", "read_xlsx", "delta_scan", "iceberg_scan",
})
"""Table functions that open files; their path arguments must stay inside the lake."""

REFUSED_FUNCTIONS = frozenset({
    "query", "query_table", "getenv", "current_setting", "duckdb_secrets", "which_secret",
    "sqlite_scan", "sqlite_attach", "postgres_scan", "mysql_scan", "load_aws_credentials",
})
"""Functions that run nested SQL or reveal configuration and environment: refused outright."""


@dataclass
class Bound:
    """Time bounds one query puts on a view; ``None`` means open on that side."""

    lower: datetime | None = None
    upper: datetime | None = None


@dataclass
class Analysis:
    """What :func:`analyse` learned about one checked statement.

    Attributes:
        sql: the single statement, trailing ``;`` removed.
        tables: lake views referenced by name (lower case).
        bounds: per view, the widest bound across the references that are bounded.
        unbounded: views with at least one reference that has no lower time bound.
        referenced: every lake view named anywhere in the statement.
    """

    sql: str
    tables: set[str] = field(default_factory=set)
    bounds: dict[str, Bound] = field(default_factory=dict)
    unbounded: set[str] = field(default_factory=set)
    referenced: set[str] = field(default_factory=set)


def check_statement(sql: str) -> str:
    """Return the one read-only statement in ``sql``; raise QueryError for anything else."""
    import duckdb

    text = sql.strip().rstrip(";").strip()
    if not text:
        raise QueryError("empty query", query=sql)
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise QueryError(f"syntax error: {_first_line(exc)}", query=sql) from None
    if len(statements) != 1:
        raise QueryError(f"exactly one statement per query (got {len(statements)})", query=sql)
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        inner = _strip_explain(text)
        if inner is None:
            raise QueryError("only EXPLAIN [ANALYZE] SELECT … is allowed", query=sql, position=0)
        check_statement(inner)
        return text
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(f"read-only console: {kind.name} statements are refused "
                         "(only SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)",
                         query=sql, position=0)
    return text


def analyse(sql: str, lake_root: str, views: dict[str, tuple[str, ...]],
            con: duckdb.DuckDBPyConnection | None = None) -> Analysis:
    """Check ``sql`` (see :func:`check_statement` and the module notes) and find its time bounds.

    Args:
        sql: the user's text.
        lake_root: absolute local path or ``s3://…`` the file functions may read.
        views: view name → columns that bound it in time (``("eventTime", "dt")``).
        con: a scratch connection used to parse and to evaluate constant bound expressions.

    Raises:
        QueryError: more than one statement, a non-SELECT, a refused function, or a path outside
            the lake; ``position`` points at the offending text when DuckDB reports it.
    """
    import duckdb

    text = check_statement(sql)
    body = _strip_explain(text) or text
    scratch = con or duckdb.connect()
    raw = _one(scratch, "SELECT json_serialize_sql($1)", [body])
    tree = json.loads(raw[0]) if raw else {"error": True}
    if tree.get("error"):
        raise QueryError(f"cannot analyse query: {tree.get('error_message', 'parse error')}", query=sql)
    result = Analysis(sql=text)
    cte_names = {k["key"].lower() for k in _find_key(tree, "cte_map") for k in k.get("map", [])}
    for node in _walk(tree):
        if not isinstance(node, dict):
            continue
        cls = node.get("class")
        if node.get("type") == "TABLE_FUNCTION":
            fn = node.get("function", {})
            _check_function(fn, lake_root, sql, table=True)
        elif cls == "FUNCTION":
            _check_function(node, lake_root, sql, table=False)
        if node.get("type") == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if name.lower() in views:
                result.referenced.add(name.lower())
            elif name.lower() not in cte_names and not node.get("schema_name") and _looks_like_path(name):
                if not path_inside(name, lake_root):
                    raise QueryError(f"FROM '{name}': path is outside the lake ({lake_root})", query=sql,
                                     position=_pos(node))
        if node.get("type") == "SELECT_NODE":
            _bounds_of_select(node, views, cte_names, scratch, result)
    return result


def lock_down(con: duckdb.DuckDBPyConnection, lake_root: str, *, memory_limit_mib: int | None = None) -> None:
    """Confine ``con`` to reading the lake: no temp folder (nothing outside the lake is allowed,
    nothing spills), at most ``memory_limit_mib`` of memory, DuckDB refuses other paths and
    further SET changes."""
    con.execute("SET temp_directory = ''")
    if memory_limit_mib is not None:
        con.execute(f"SET memory_limit = '{int(memory_limit_mib)}MiB'")
    if not lake_root.startswith("s3://"):
        allowed = os.path.realpath(lake_root).rstrip("/") + "/"
        con.execute(f"SET allowed_directories = ['{_sql_str(allowed)}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


# -- checks ----------------------------------------------------------------------------------

def _pos(node: dict[str, Any]) -> int | None:
    pos = node.get("query_location")
    return pos if isinstance(pos, int) and pos < 1 << 40 else None


def _looks_like_path(name: str) -> bool:
    """A FROM name DuckDB would open as a file (replacement scan): it has a folder, an extension
    or a glob in it."""
    return any(c in name for c in "/\\.*?[{~:")


def _check_function(fn: dict[str, Any], lake_root: str, sql: str, *, table: bool) -> None:
    name = str(fn.get("function_name", "")).lower()
    pos = _pos(fn)
    if name in REFUSED_FUNCTIONS:
        raise QueryError(f"function {name}() is not allowed in the read-only console",
                         query=sql, position=pos)
    if not table or name not in FILE_FUNCTIONS:
        return
    paths = [a.get("expression", {}) for a in fn.get("arguments", []) if not a.get("name")]
    if not paths:
        raise QueryError(f"{name}() needs a path inside the lake", query=sql, position=pos)
    for expr in paths[:1]:
        for literal in _path_literals(expr, name, sql, pos):
            if not path_inside(literal, lake_root):
                raise QueryError(f"{name}(): path {literal!r} is outside the lake ({lake_root})",
                                 query=sql, position=pos)


def _path_literals(expr: dict[str, Any], name: str, sql: str, pos: int | None) -> list[str]:
    if expr.get("class") == "CONSTANT" and expr.get("literal", {}).get("kind") == "STRING":
        return [str(expr["literal"]["text"])]
    if expr.get("class") == "FUNCTION" and expr.get("function_name") == "list_value":
        out: list[str] = []
        children = list(expr.get("children", [])) + [a.get("expression", {}) for a in expr.get("arguments", [])]
        for child in children:
            out += _path_literals(child, name, sql, pos)
        return out
    raise QueryError(f"{name}(): the path must be a string literal inside the lake",
                     query=sql, position=pos)


def path_inside(path: str, lake_root: str) -> bool:
    """Whether ``path`` (possibly a glob) stays inside ``lake_root`` after resolving ``..``,
    ``~`` and symlinks. A relative path is taken from the working folder, as DuckDB opens it.
    URL schemes other than the lake's own are never inside; nor is a glob with ``..`` after its
    first wildcard."""
    if lake_root.startswith("s3://"):
        norm = os.path.normpath(path[5:]) if path.startswith("s3://") else None
        return norm is not None and (norm + "/").startswith(lake_root[5:].rstrip("/") + "/")
    if "://" in path or path.startswith("~"):
        return False
    base = os.path.realpath(lake_root)
    pattern = os.path.normpath(os.path.join(os.getcwd(), path))
    cut = min((i for i in (pattern.find(c) for c in "*?[{") if i >= 0), default=len(pattern))
    if ".." in pattern[cut:].split("/"):
        return False
    full = os.path.realpath(pattern[:cut])
    return full == base or full.startswith(base.rstrip("/") + "/")


# -- time bounds -----------------------------------------------------------------------------

def _bounds_of_select(node: dict[str, Any], views: dict[str, tuple[str, ...]], cte_names: set[str],
                      con: duckdb.DuckDBPyConnection, result: Analysis) -> None:
    refs = [t for t in _tables_in_from(node.get("from_table"))
            if t in views and t not in cte_names]
    if not refs:
        return
    result.tables.update(refs)
    conjuncts = list(_conjuncts(node.get("where_clause")))
    for view in refs:
        bound = Bound()
        for expr in conjuncts:
            for side, value in _compare_bounds(expr, views[view], con):
                if side == "lower":
                    bound.lower = value if bound.lower is None else max(bound.lower, value)
                else:
                    bound.upper = value if bound.upper is None else min(bound.upper, value)
        if bound.lower is None:
            result.unbounded.add(view)
            if bound.upper is not None:
                result.bounds.setdefault(view, Bound()).upper = bound.upper
            continue
        merged = result.bounds.setdefault(view, Bound(bound.lower, bound.upper))
        merged.lower = min(merged.lower or bound.lower, bound.lower)
        merged.upper = None if bound.upper is None or merged.upper is None else max(merged.upper, bound.upper)


def _tables_in_from(node: Any) -> Iterator[str]:
    if not isinstance(node, dict):
        return
    if node.get("type") == "BASE_TABLE" and not node.get("schema_name"):
        yield str(node.get("table_name", "")).lower()
    elif node.get("type") == "JOIN":
        yield from _tables_in_from(node.get("left"))
        yield from _tables_in_from(node.get("right"))


def _conjuncts(expr: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(expr, dict):
        return
    if expr.get("type") == "CONJUNCTION_AND":
        for child in expr.get("children", []):
            yield from _conjuncts(child)
    else:
        yield expr


_FLIP = {"COMPARE_GREATERTHAN": "COMPARE_LESSTHAN", "COMPARE_GREATERTHANOREQUALTO": "COMPARE_LESSTHANOREQUALTO",
         "COMPARE_LESSTHAN": "COMPARE_GREATERTHAN", "COMPARE_LESSTHANOREQUALTO": "COMPARE_GREATERTHANOREQUALTO",
         "COMPARE_EQUAL": "COMPARE_EQUAL"}


def _compare_bounds(expr: dict[str, Any], columns: tuple[str, ...],
                    con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, datetime]]:
    kind = expr.get("type")
    if kind == "COMPARE_BETWEEN" and _is_column(expr.get("input"), columns):
        for side, key in (("lower", "lower"), ("upper", "upper")):
            value = _constant_time(expr.get(key), con)
            if value is not None:
                day = side == "upper" and _is_column(expr.get("input"), ("dt",))
                yield side, value + timedelta(days=1) if day else value
        return
    if kind not in _FLIP:
        return
    left, right = expr.get("left"), expr.get("right")
    if not _is_column(left, columns):
        if not _is_column(right, columns):
            return
        left, right, kind = right, left, _FLIP[str(kind)]
    value = _constant_time(right, con)
    if value is None:
        return
    if kind in ("COMPARE_GREATERTHAN", "COMPARE_GREATERTHANOREQUALTO", "COMPARE_EQUAL"):
        yield "lower", value
    if kind in ("COMPARE_LESSTHAN", "COMPARE_LESSTHANOREQUALTO", "COMPARE_EQUAL"):
        # a `dt` partition value names a whole day: `dt <= '2026-11-01'` reaches its end
        yield "upper", value + timedelta(days=1) if _is_column(left, ("dt",)) else value


def _is_column(expr: Any, columns: tuple[str, ...]) -> bool:
    while isinstance(expr, dict) and expr.get("class") == "CAST":
        expr = expr.get("child")
    if not isinstance(expr, dict) or expr.get("class") != "COLUMN_REF":
        return False
    return str(expr["column_names"][-1]).lower() in {c.lower() for c in columns}


def _constant_time(expr: Any, con: duckdb.DuckDBPyConnection) -> datetime | None:
    """Evaluate a column-free expression to a UTC time (dates and ``dt`` strings included)."""
    if not isinstance(expr, dict) or any(isinstance(n, dict) and n.get("class") in ("COLUMN_REF", "SUBQUERY")
                                         for n in _walk(expr)):
        return None
    template = json.loads(_one(con, "SELECT json_serialize_sql('SELECT 1')")[0])
    template["statements"][0]["node"]["select_list"] = [expr]
    try:
        inner = _one(con, "SELECT json_deserialize_sql($1)", [json.dumps(template)])[0]
        row = _one(con, f"SELECT CAST(({inner[len('SELECT '):]}) AS TIMESTAMPTZ)")
    except Exception:
        return None
    if not row or row[0] is None:
        return None
    value = row[0]
    return to_utc(value) if isinstance(value, datetime) else None


# -- helpers ---------------------------------------------------------------------------------

def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    """The first row, fetching the result completely (a half-read result blocks the connection)."""
    rows = con.execute(sql, params).fetchall()
    return tuple(rows[0]) if rows else ()


def _walk(obj: Any) -> Iterator[Any]:
    stack = [obj]
    while stack:
        cur = stack.pop()
        yield cur
        if isinstance(cur, dict):
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)


def _find_key(obj: Any, key: str) -> Iterator[Any]:
    for node in _walk(obj):
        if isinstance(node, dict) and key in node:
            yield node[key]


def _strip_explain(text: str) -> str | None:
    words = text.split(None, 2)
    if not words or words[0].upper() != "EXPLAIN":
        return None
    rest = text[len(words[0]):].lstrip()
    if rest.upper().startswith("ANALYZE") or rest.upper().startswith("ANALYSE"):
        rest = rest[7:].lstrip()
    return rest or None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sql_str(text: str) -> str:
    return text.replace("'", "''")
