"""Raw ``metrics`` Parquet generated in DuckDB for the benchmarks (fast, seeded, lake layout),
in the exact schema the loader writes (:data:`pipeline.schemas.METRICS`)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def write_raw_metrics(con: duckdb.DuckDBPyConnection, source_sql: str, root: Path) -> None:
    """Write the rows of ``source_sql`` — columns ``namespace, metric_name, dimensions, unit, ts, v``,
    one sample each — to ``root/raw/metrics`` as the loader would: the raw schema's types
    (``sample_count`` a double, times in milliseconds; DuckDB alone would write a DECIMAL count
    and microseconds, which cost every reader more than the lake's real files do), dt/hour
    partitions, series ids as the readers compute them, the lake's compression and row groups."""
    out = root / "raw" / "metrics"
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (
        WITH v AS ({source_sql})
        SELECT namespace, metric_name, dimensions, ts AS "timestamp", unit,
               CAST(60 AS INTEGER) AS storage_resolution, CAST(1.0 AS DOUBLE) AS sample_count, v AS "sum", v AS "min",
               v AS "max", CAST(NULL AS DOUBLE[]) AS "values", CAST(NULL AS DOUBLE[]) AS counts,
               '111122223333' AS account_id, 'us-east-1' AS region, CAST(NULL AS VARCHAR) AS metric_stream_name,
               left(md5(concat_ws(chr(31), namespace, metric_name, dimensions, unit)), 16) AS _wl_series_id,
               'bench' AS _wl_origin, ts AS _wl_ingest_time,
               strftime(ts, '%Y-%m-%d') AS dt, strftime(ts, '%H') AS hour
        FROM v ORDER BY ts)
        TO '{out}' (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (dt, hour))""")
    _as_loaded(out)


def _as_loaded(folder: Path) -> None:
    """Rewrite every Parquet file below ``folder`` in the raw metrics schema, as the loader
    writes it (:meth:`pipeline.lake.Lake.write_parquet`'s compression, row groups and encoding)."""
    import pyarrow.parquet as pq

    from pipeline.lake.encoding import dictionary_columns
    from pipeline.lake.store import PARQUET_COMPRESSION, ROW_GROUP_SIZE
    from pipeline.schemas import METRICS

    for path in sorted(folder.rglob("*.parquet")):
        t = pq.read_table(path, partitioning=None).select(METRICS.names).cast(METRICS)
        pq.write_table(t, path, compression=PARQUET_COMPRESSION, row_group_size=ROW_GROUP_SIZE,
                       use_dictionary=dictionary_columns(t))
