"""DuckDB connections with one view per lake table.

Local lakes are scanned with DuckDB's own ``read_parquet`` (Hive partitions, partition pruning
on ``dt``/``hour``/``month`` predicates). An ``s3://`` lake is scanned through a pyarrow dataset
(DuckDB cannot download its httpfs extension here), which still pushes filters down.
A table with no files yet gets an empty view with its declared schema, so queries work on an
empty lake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.lake import layout
from pipeline.schemas import RAW_SCHEMAS

if TYPE_CHECKING:
    import duckdb

    from pipeline.lake import Lake


def _empty(table_name: str) -> pa.Table | None:
    schema = RAW_SCHEMAS.get(table_name)
    if schema is None:
        return None
    spec = layout.table(table_name)
    for key in spec.partitions:
        schema = schema.append(pa.field(key, pa.string()))
    return schema.empty_table()


def register_table(con: duckdb.DuckDBPyConnection, lake: Lake, table_name: str,
                   view: str | None = None) -> bool:
    """Create or replace view ``view`` (default: the table name) over a lake table.

    Returns False (and creates no view) when the table has no files and no declared schema.
    """
    import pyarrow.dataset as ds

    spec = layout.table(table_name)
    view = view or table_name
    if spec.fmt != "parquet":
        return False
    files = lake.table_files(table_name)
    if files:
        if lake.is_s3:
            dataset = ds.dataset([lake.path(f) for f in files], filesystem=lake.fs,
                                 format="parquet", partitioning="hive",
                                 partition_base_dir=lake.path(spec.prefix))
            con.register(f"__ds_{view}", dataset)
            con.execute(f'CREATE OR REPLACE VIEW "{view}" AS SELECT * FROM "__ds_{view}"')
        else:
            glob = lake.uri(spec.prefix) + "/**/*.parquet"
            con.execute(
                f"CREATE OR REPLACE VIEW \"{view}\" AS SELECT * FROM read_parquet("
                f"'{_sql_str(glob)}', hive_partitioning = true, union_by_name = true,"
                f" hive_types_autocast = false)"
            )
        return True
    empty = _empty(table_name)
    if empty is None:
        return False
    con.register(f"__empty_{view}", empty)
    con.execute(f'CREATE OR REPLACE VIEW "{view}" AS SELECT * FROM "__empty_{view}"')
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
