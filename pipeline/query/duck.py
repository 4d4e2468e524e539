"""DuckDB connections with one view per lake table, and the safe query runner.

:func:`connect` / :func:`register_table` give other modules a plain connection with one view per
lake table (unrestricted: for trusted job code). :func:`run_query` is what user-typed SQL goes
through: catalogue views (:mod:`pipeline.query.catalog`), time pruning, a default time bound on
large raw tables, and a connection locked to read-only access of the lake
(:mod:`pipeline.query.safety`).

Local lakes are scanned with DuckDB's own ``read_parquet`` over the table's committed files
(:meth:`pipeline.lake.Lake.table_files`; Hive partitions, partition pruning
on ``dt``/``hour``/``month`` predicates). An ``s3://`` lake is scanned through a pyarrow dataset
(DuckDB cannot download its httpfs extension here), which still pushes filters down.
A table with no files yet gets an empty view with its declared schema, so queries work on an
empty lake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.lake import layout
from pipeline.schemas import RAW_SCHEMAS

if TYPE_CHECKING:
    import duckdb

    from pipeline.lake import Lake


def _empty(table_name: str) -> pa.Schema | None:
    schema = RAW_SCHEMAS.get(table_name)
    if schema is None:
        return None
    spec = layout.table(table_name)
    for key in spec.partitions:
        schema = schema.append(pa.field(key, pa.string()))
    return schema


_SIMPLE_TYPES = {pa.string(): "VARCHAR", pa.large_string(): "VARCHAR", pa.binary(): "BLOB", pa.bool_(): "BOOLEAN",
                 pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
                 pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.date32(): "DATE"}


def duck_type(t: pa.DataType) -> str:
    """The DuckDB SQL type of an Arrow type (the types the lake's schemas use)."""
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{duck_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {duck_type(f.type)}' for f in t) + ")"
    raise TypeError(f"no DuckDB type for {t}")


def empty_select(schema: pa.Schema) -> str:
    """``SELECT`` of no rows with ``schema``'s columns and types — in place of registering an empty
    Arrow table, which makes DuckDB import pandas (0.3 s of every command's start-up)."""
    cols = ", ".join(f'CAST(NULL AS {duck_type(f.type)}) AS "{f.name}"' for f in schema) or "NULL AS _"
    return f"SELECT {cols} WHERE false"


def register_table(con: duckdb.DuckDBPyConnection, lake: Lake, table_name: str,
                   view: str | None = None, *, files: list[str] | None = None) -> bool:
    """Create or replace view ``view`` (default: the table name) over a lake table, or over the
    given ``files`` of it only (lake-relative paths of its committed files: an incremental reader's
    pruning).

    Returns False (and creates no view) when the table has no files and no declared schema.
    """
    spec = layout.table(table_name)
    view = view or table_name
    if spec.fmt != "parquet":
        return False
    files = lake.table_files(table_name) if files is None else files
    if files:
        if lake.is_s3:
            import pyarrow.dataset as ds  # only for S3: it pulls in pandas (0.3 s of start-up)

            dataset = ds.dataset([lake.path(f) for f in files], filesystem=lake.fs,
                                 format="parquet", partitioning="hive",
                                 partition_base_dir=lake.path(spec.prefix))
            con.register(f"__ds_{view}", dataset)
            con.execute(f'CREATE OR REPLACE VIEW "{view}" AS SELECT * FROM "__ds_{view}"')
        else:  # the committed files only (a glob would also see a replace's uncommitted files)
            listing = ", ".join(f"'{_sql_str(lake.uri(f))}'" for f in files)
            con.execute(
                f"CREATE OR REPLACE VIEW \"{view}\" AS SELECT * FROM read_parquet("
                f"[{listing}], hive_partitioning = true, union_by_name = true,"
                f" hive_types_autocast = false)"
            )
        return True
    empty = _empty(table_name)
    if empty is None:
        return False
    con.execute(f'CREATE OR REPLACE VIEW "{view}" AS {empty_select(empty)}')
    return True


def connect(lake: Lake, tables: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view for each lake table (or those named)."""
    import duckdb

    con = duckdb.connect()
    for name in tables or list(layout.TABLES):
        register_table(con, lake, name)
    return con


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


# -- the safe query runner used by `watchlake sql`, investigations and Logs Insights ------------

@dataclass
class QueryResult:
    """Rows of one query plus what the user must be told about how it ran.

    Attributes:
        table: the result rows (at most ``max_rows``).
        notes: human sentences: the default time bound applied, truncation, pruning.
        truncated: more rows existed than ``max_rows``.
        seconds: wall time of planning + execution.
    """

    table: pa.Table
    notes: list[str] = field(default_factory=list)
    truncated: bool = False
    seconds: float = 0.0
    sql: str = ""

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def rows(self) -> list[tuple[Any, ...]]:
        """Rows as tuples of Python values."""
        cols = [c.to_pylist() for c in self.table.columns]
        return list(zip(*cols)) if cols else []


class deadline:  # noqa: N801 - used as a context manager, like a function
    """Interrupt the statement running on ``con`` after ``seconds`` (no limit when None);
    ``expired`` tells afterwards whether it fired."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float | None):
        import threading

        self.expired = False
        self._timer = None if seconds is None else threading.Timer(seconds, self._fire, args=(con,))

    def _fire(self, con: duckdb.DuckDBPyConnection) -> None:
        self.expired = True
        con.interrupt()

    def __enter__(self) -> deadline:
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()



def run_query(lake: Lake, sql: str, *, default_bound_hours: int | None = 24, max_rows: int = 10_000,
              params: dict[str, Any] | list[Any] | None = None, timeout_seconds: float | None = 60.0,
              memory_limit_mib: int | None = 2048) -> QueryResult:
    """Run one read-only statement against the lake's views, safely.

    The statement is checked and analysed (:mod:`pipeline.query.safety`); views it reads are
    built over only the partitions its time bounds touch; a reference to a large raw table
    without a lower time bound gets the default bound (the newest ``default_bound_hours`` of that
    table's data, ``None`` to disable), which is stated in ``notes``; the connection is then locked
    to the lake (no writes, no outside files, no configuration changes, no temp folder, at most
    ``memory_limit_mib``) before the query runs, and interrupted after ``timeout_seconds``
    (``query.timeout_seconds`` / ``query.memory_limit_mib``; None: no limit).

    Raises:
        QueryError: the statement is refused, runs out of time or memory (the message names the
            setting), or DuckDB rejects it (message and position kept).
    """
    import time

    import duckdb

    from pipeline.errors import QueryError
    from pipeline.query import catalog, safety
    from pipeline.timeutil import iso

    t0 = time.perf_counter()
    con = duckdb.connect()  # parses and evaluates bound constants first, then holds the views
    views = {name: spec.time_columns + ("dt",) for name, spec in catalog.VIEWS.items()}
    analysis = safety.analyse(sql, lake.root, views, con)
    windows: dict[str, catalog.Window] = {}
    notes: list[str] = []
    for view in sorted(analysis.tables):
        spec = catalog.VIEWS[view]
        bound = analysis.bounds.get(view)
        if view in analysis.unbounded and spec.large and default_bound_hours and spec.table:
            extent = catalog.table_extent(lake, spec.table)
            if extent is None:
                continue
            end = extent[1] if bound is None or bound.upper is None else min(extent[1], bound.upper)
            start = end - timedelta(hours=default_bound_hours)
            windows[view] = catalog.Window(start, end, predicate=True)
            notes.append(f"no time bound on {view}: limited to the newest {default_bound_hours} h of its "
                         f"data, [{iso(start)}, {iso(end)}) (add a WHERE condition on "
                         f"{spec.time_columns[0]} to choose the range)")
        elif bound is not None and bound.lower is not None:
            windows[view] = catalog.Window(bound.lower, bound.upper)
    catalog.build(con, lake, windows, sorted(analysis.referenced) or None)
    safety.lock_down(con, lake.root, memory_limit_mib=memory_limit_mib)
    timer = deadline(con, timeout_seconds)
    try:
        with timer:
            reader = con.sql(analysis.sql, params=params).to_arrow_reader(min(max_rows + 1, 1 << 20))
            batches, count = [], 0
            for batch in reader:
                batches.append(batch)
                count += batch.num_rows
                if count > max_rows:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, max_rows)
    except duckdb.Error as exc:
        text = str(exc).strip()
        if timer.expired:
            raise QueryError(f"query stopped after {timeout_seconds:g} s (query.timeout_seconds)",
                             query=sql) from None
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise QueryError(f"query needs more than {memory_limit_mib} MiB (query.memory_limit_mib): "
                             f"{text.splitlines()[0] if text else ''}", query=sql) from None
        raise QueryError(text.splitlines()[0] if text else type(exc).__name__, query=sql) from None
    finally:
        con.close()
    truncated = count > max_rows
    if truncated:
        notes.append(f"output truncated to {max_rows} rows (query.max_rows)")
    return QueryResult(table, notes, truncated, time.perf_counter() - t0, analysis.sql)
