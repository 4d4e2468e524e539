"""Raw ``metrics`` Parquet generated in DuckDB for the benchmarks (fast, seeded, lake layout)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def write_raw_metrics(con: duckdb.DuckDBPyConnection, source_sql: str, root: Path) -> None:
    """Write the rows of ``source_sql`` — columns ``namespace, metric_name, dimensions, unit, ts, v``,
    one sample each — to ``root/raw/metrics`` as the loader would (raw schema, dt/hour partitions,
    series ids as the readers compute them)."""
    out = root / "raw" / "metrics"
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (
        WITH v AS ({source_sql})
        SELECT namespace, metric_name, dimensions, ts AS "timestamp", unit,
               CAST(60 AS INTEGER) AS storage_resolution, 1.0 AS sample_count, v AS "sum", v AS "min",
               v AS "max", CAST(NULL AS DOUBLE[]) AS "values", CAST(NULL AS DOUBLE[]) AS counts,
               '111122223333' AS account_id, 'us-east-1' AS region, CAST(NULL AS VARCHAR) AS metric_stream_name,
               left(md5(concat_ws(chr(31), namespace, metric_name, dimensions, unit)), 16) AS _wl_series_id,
               'bench' AS _wl_origin, ts AS _wl_ingest_time,
               strftime(ts, '%Y-%m-%d') AS dt, strftime(ts, '%H') AS hour
        FROM v ORDER BY ts)
        TO '{out}' (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (dt, hour))""")
