"""The lake side of the anomaly jobs: rollup series in, scored rows and rejected points out.

* :func:`read_series` streams one statistic of each series of ``metrics_1m`` / ``metrics_5m`` in
  time order (DuckDB over the committed files, or only the files given);
* :func:`write_rows` commits ``anomalies`` rows per day partition, replacing a replay's range or a
  killed follow step's files (:mod:`jobs.anomaly_checkpoint` names them);
* :func:`reject_points` keeps points a job will not score, with the reason, in ``errors/anomalies/``.

Both the batch job (:mod:`jobs.anomaly_job`) and the Flink job (:mod:`jobs.flink_anomaly_io`)
read and write through here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from jobs import anomaly_checkpoint as ckpt
from pipeline.anomaly.table import ANOMALIES, SORT_KEYS
from pipeline.errors import QueryError
from pipeline.lake import Lake
from pipeline.timeutil import from_epoch, to_utc

REJECT_SOURCE = "anomalies"  # points not scored are kept in errors/anomalies/ with their reason
STATS = {"Average": "sum / sample_count", "Sum": "sum", "Minimum": "min", "Maximum": "max",
         "SampleCount": "sample_count"}
TABLES = ("metrics_1m", "metrics_5m")

@dataclass
class SeriesData:
    """One series read from a rollup table, in time order (epoch seconds)."""

    series_id: str
    namespace: str
    metric_name: str
    dimensions: str
    unit: str
    period: int
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


def read_series(lake: Lake, table: str = "metrics_5m", stat: str = "Average", *,
                start: datetime | None = None, end: datetime | None = None,
                namespace: str | None = None, metric: str | None = None,
                units: list[str] | None = None, files: list[str] | None = None,
                counter: list[int] | None = None) -> Iterator[SeriesData]:
    """Each series of ``table`` as ``stat`` values in ``[start, end)``, in time order; read from
    the committed ``files`` given only (lake-relative; default: every file of the table). The rows
    read are added to ``counter[0]`` when given."""
    import duckdb

    from pipeline.query.duck import register_table

    if table not in TABLES:
        raise QueryError(f"anomaly detection reads {' or '.join(TABLES)}, not {table!r}")
    if stat not in STATS:
        raise QueryError(f"statistic {stat!r} not supported (use one of {', '.join(STATS)})")
    if not (files if files is not None else lake.table_files(table)):
        return
    where: list[str] = ["sample_count > 0"]
    params: list[Any] = []
    if start is not None:
        where.append("timestamp >= ?")
        params.append(to_utc(start))
    if end is not None:
        where.append("timestamp < ?")
        params.append(to_utc(end))
    if namespace:
        where.append("namespace = ?")
        params.append(namespace)
    if metric:
        where.append("metric_name = ?")
        params.append(metric)
    if units:
        where.append(f"unit IN ({', '.join('?' for _ in units)})")
        params.extend(units)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # the streamed read lasts the whole scoring:
    # DuckDB's own bar would draw over the job's
    register_table(con, lake, table, files=files)
    try:
        cur = con.execute(
            f"SELECT namespace, metric_name, dimensions, unit, period, "
            f"epoch_ms(timestamp) / 1000.0 AS t, {STATS[stat]} AS v FROM {table} "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY namespace, metric_name, dimensions, unit, timestamp", params)
        cur_sd: SeriesData | None = None
        cur_key: tuple[Any, ...] = ()
        times: list[float] = []
        values: list[float] = []
        while batch := cur.fetchmany(50_000):
            if counter is not None:
                counter[0] += len(batch)
            for row in batch:
                if row[:4] != cur_key:
                    if cur_sd is not None:
                        yield cur_sd
                    cur_key = row[:4]
                    ns, name, dims, unit = cur_key
                    cur_sd = SeriesData(f"{ns}|{name}|{dims}|{unit}|{stat}", ns, name, dims, unit, int(row[4]))
                    times, values = cur_sd.times, cur_sd.values
                v = row[6]
                if v is not None:
                    times.append(float(row[5]))
                    values.append(float(v))
        if cur_sd is not None:
            yield cur_sd
    finally:
        con.close()


def newest_bucket(lake: Lake, table: str, files: list[str] | None = None) -> datetime | None:
    """The newest bucket start in ``files`` of ``table`` (default: all of them); None when empty."""
    import duckdb

    from pipeline.query.duck import register_table

    if not (files if files is not None else lake.table_files(table)):
        return None
    con = duckdb.connect()
    try:
        register_table(con, lake, table, files=files)
        row = con.execute(f"SELECT epoch_ms(max(timestamp)) FROM {table}").fetchone()
    finally:
        con.close()
    return from_epoch(int(row[0]), "ms") if row and row[0] is not None else None


def write_rows(lake: Lake, key: str, rows: pa.Table,
           replace: tuple[datetime | None, datetime | None] | None,
           series: set[str] | None = None, *, step: int | None = None) -> int:
    """Write rows per day partition into this key's files, as one atomic commit; in replay mode
    replace this key's rows in the range for the ``series`` that were replayed (rows of other
    series and of other keys are kept). A follow ``step`` tags its files with its number and
    replaces the files of that number (an attempt killed before its checkpoint was saved; the
    redo's rows are a superset of its rows). Returns the files written."""
    import pyarrow.compute as pc

    from pipeline.lake.replace import day_partitions, replace_rows

    if rows.num_rows == 0 and replace is None:
        return 0

    def partitions() -> list[dict[str, str]]:  # in replay mode, also days that only hold old rows
        if replace is None:
            return []
        lo_day = to_utc(replace[0]).strftime("%Y-%m-%d") if replace[0] else ""
        hi_day = to_utc(replace[1]).strftime("%Y-%m-%d") if replace[1] else "9999"
        return [v for v, _ in lake.iter_partitions("anomalies") if lo_day <= v["dt"] <= hi_day]

    where = None
    tag, only = key, (lambda f: ckpt.is_job_file(f, key))
    if step is not None:
        tag = ckpt.step_tag(key, step)
        only = lambda f: f.endswith(f"-{tag}.parquet")  # noqa: E731

        def where(old: pa.Table) -> pa.Array | pa.ChunkedArray:  # a killed attempt's rows: all replaced
            return pa.array([True] * old.num_rows)
    elif replace is not None:
        lo, hi = replace
        ts_type = ANOMALIES.field("timestamp").type

        def where(old: pa.Table) -> pa.Array | pa.ChunkedArray:
            mask = (pc.is_in(old["series_id"], pa.array(sorted(series), pa.string()))
                    if series is not None else pa.array([True] * old.num_rows))
            if lo:
                mask = pc.and_(mask, pc.greater_equal(old["timestamp"], pa.scalar(to_utc(lo), ts_type)))
            if hi:
                mask = pc.and_(mask, pc.less(old["timestamp"], pa.scalar(to_utc(hi), ts_type)))
            return mask

    res = replace_rows(
        lake, "anomalies", rows, schema=ANOMALIES, partitions=partitions, where=where, tag=tag,
        sort_by=SORT_KEYS, only=only if replace is not None or step is not None else (lambda f: False),
        partition_of=lambda t: day_partitions("anomalies/dt=", t["timestamp"]))
    return len(res.added)


def reject_points(lake: Lake, points: Iterable[tuple[str, int, float, str]], table: str = "metrics_1m") -> int:
    """Keep points an anomaly job will not score — ``(series, t in epoch ms, value, reason)``,
    read from ``table`` — in the lake's rejected-input table ``errors/anomalies/`` (one file per
    distinct set: writing the same set again writes nothing); returns how many were given."""
    from pipeline.loader import rejects
    from pipeline.sources.base import Rejection
    from pipeline.timeutil import iso, utcnow

    found = [Rejection(REJECT_SOURCE, f"{table} {sid} {iso(from_epoch(t, 'ms'))}", None, "timestamp", reason,
                       json.dumps({"series_id": sid, "timestamp": t, "value": v}).encode())
             for sid, t, v, reason in points]
    if found:
        rejects.write(lake, REJECT_SOURCE, found, utcnow())
    return len(found)
