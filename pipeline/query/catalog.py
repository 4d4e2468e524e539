"""The SQL catalogue: one DuckDB view per lake table, with documented columns and time pruning.

Views (see :data:`VIEWS`): ``cloudtrail``, ``metrics_raw``, ``metrics_1m``, ``metrics_5m``,
``metrics_1h``, ``logs``, ``records``, ``alarm_state``, ``alarm_history``, ``anomalies``,
``insights``, ``findings``, ``rejected``.

Guarantees:

* Every view exists, even on an empty lake: a table without files gets an empty view with its
  schema declared in :mod:`pipeline.schemas`; partition columns are VARCHAR like in the lake.
* Time pruning: :func:`build` takes a window per view and only lists the partitions
  (``dt``/``hour``/``month`` folders) that overlap it, so a bounded query never opens files
  outside its window; DuckDB's own Hive filter pushdown prunes on explicit ``dt``/``hour``
  predicates as well, and row-group statistics prune inside files.
* A *default* bound (``predicate=True``) also filters rows by the view's time column, so the view
  holds exactly ``[start, end)``; the caller states that bound in its output.
"""

from __future__ import annotations

import calendar
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.errors import InputError
from pipeline.lake import layout
from pipeline.query.duck import empty_select
from pipeline.schemas import ALARM_STATE, DERIVED_SCHEMAS, RAW_SCHEMAS, REJECTED
from pipeline.timeutil import shift

if TYPE_CHECKING:
    import duckdb

    from pipeline.lake import Lake


@dataclass(frozen=True)
class ViewSpec:
    """One view of the catalogue.

    Attributes:
        name: SQL name. table: lake table behind it (None for ``alarm_state``).
        description: one line for ``watchlake sql --tables``.
        time_columns: candidate event-time columns, first present wins.
        large: raw, high-volume table: an unbounded query gets the default time bound.
    """

    name: str
    table: str | None
    description: str
    time_columns: tuple[str, ...]
    large: bool = False


VIEWS: dict[str, ViewSpec] = {v.name: v for v in [
    ViewSpec("cloudtrail", "cloudtrail", "CloudTrail events, CloudTrail field names and nesting "
             "(userIdentity.arn, requestParameters JSON text); partitions dt, hour", ("eventTime",), True),
    ViewSpec("metrics_raw", "metrics", "raw CloudWatch datapoints / statistic sets; dimensions is "
             "canonical JSON; partitions dt, hour", ("timestamp",), True),
    ViewSpec("metrics_1m", "metrics_1m", "1-minute rollups (SampleCount/Sum/Min/Max partials + sketch); "
             "partition dt", ("timestamp", "bucket_start", "bucket", "ts"), True),
    ViewSpec("metrics_5m", "metrics_5m", "5-minute rollups; partition dt",
             ("timestamp", "bucket_start", "bucket", "ts")),
    ViewSpec("metrics_1h", "metrics_1h", "1-hour rollups; partition month",
             ("timestamp", "bucket_start", "bucket", "ts")),
    ViewSpec("logs", "logs", "CloudWatch Logs events (logGroup, logStream, timestamp, message); "
             "partitions dt, hour", ("timestamp",), True),
    ViewSpec("records", "records", "generic Kinesis records; partitions stream, dt",
             ("approximateArrivalTimestamp",), True),
    ViewSpec("alarm_state", None, "current state of every alarm (alarms/state.json)", ()),
    ViewSpec("alarm_history", "alarm_history", "alarm state transitions and actions; partition dt",
             ("timestamp", "Timestamp", "time")),
    ViewSpec("anomalies", "anomalies", "anomaly detector scores and bands; partition dt",
             ("timestamp", "time", "ts")),
    ViewSpec("insights", "insights", "CloudTrail Insights events (CloudTrail schema); partition dt",
             ("eventTime",)),
    ViewSpec("findings", "findings", "audit detection findings (rule, level, MITRE tags, matching eventIDs); "
             "partition dt", ("time", "timestamp", "window_start")),
    ViewSpec("rejected", "errors", "rejected input with reason, origin and raw bytes (errors/*.jsonl.gz)",
             ("rejected_at",)),
]}

FALLBACK_SCHEMAS: dict[str, pa.Schema] = {"errors": REJECTED, "alarm_state": ALARM_STATE}
"""Schemas of the two views that are not Parquet tables (``rejected``, ``alarm_state``)."""


@dataclass
class Window:
    """A time window on one view. ``predicate`` also filters rows (a default bound)."""

    start: datetime | None
    end: datetime | None
    predicate: bool = False


def declared_schema(table: str) -> pa.Schema | None:
    """The schema declared in :mod:`pipeline.schemas` for a lake table (raw or derived), or for
    ``errors``/``alarm_state`` the one in :data:`FALLBACK_SCHEMAS`. Partition columns are not
    included."""
    return RAW_SCHEMAS.get(table) or DERIVED_SCHEMAS.get(table) or FALLBACK_SCHEMAS.get(table)


def partition_span(table: str, values: dict[str, str]) -> tuple[datetime, datetime] | None:
    """The ``[start, end)`` time a partition covers, from its dt/hour/month values."""
    if "dt" in values:
        start = datetime.fromisoformat(values["dt"]).replace(tzinfo=UTC)
        if "hour" in values:
            start = shift(start, timedelta(hours=int(values["hour"])))
            return start, shift(start, timedelta(hours=1))
        return start, shift(start, timedelta(days=1))
    if "month" in values:
        y, m = (int(x) for x in values["month"].split("-"))
        start = datetime(y, m, 1, tzinfo=UTC)
        return start, shift(start, timedelta(days=calendar.monthrange(y, m)[1]))
    return None


def table_extent(lake: Lake, table: str) -> tuple[datetime, datetime] | None:
    """Earliest partition start and latest partition end of a table (None when empty)."""
    spans = [s for values, _ in lake.iter_partitions(table) if (s := partition_span(table, values))]
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


def files_in_window(lake: Lake, table: str, window: Window | None) -> list[str]:
    """Files of ``table`` whose partition overlaps ``window`` (all files when None)."""
    files = lake.table_files(table)
    if window is None or (window.start is None and window.end is None):
        return files
    keep = []
    for f in files:
        span = partition_span(table, layout.parse_partition_path(table, f.rsplit("/", 1)[0]))
        if span is None or ((window.start is None or span[1] > window.start)
                            and (window.end is None or span[0] <= window.end)):
            keep.append(f)
    return keep


def build(con: duckdb.DuckDBPyConnection, lake: Lake,
          windows: dict[str, Window] | None = None, views: list[str] | None = None) -> dict[str, str | None]:
    """Create every view (or those named) on ``con``; returns view → its time column (or None)."""
    windows = windows or {}
    out: dict[str, str | None] = {}
    for name in views or list(VIEWS):
        spec = VIEWS[name]
        window = windows.get(name)
        if spec.table is None:
            source = _alarm_state(con, lake)
        elif layout.table(spec.table).fmt == "jsonl.gz":
            source = _jsonl_source(con, lake, spec, files_in_window(lake, spec.table, window))
        else:
            source = _parquet_source(con, lake, spec, files_in_window(lake, spec.table, window))
        declared = declared_schema(spec.table) if spec.table else None
        if declared is not None and spec.table != "errors":
            cols = set(declared.names)
        else:  # DESCRIBE reads file metadata: only when no schema was declared
            cols = {r[0] for r in con.execute(f"DESCRIBE {source}").fetchall()}
        time_col = next((c for c in spec.time_columns if c in cols), None)
        out[name] = time_col
        where = ""
        if window is not None and window.predicate and time_col is not None:
            conds = []
            if window.start is not None:
                conds.append(f"\"{time_col}\" >= TIMESTAMPTZ '{window.start.isoformat()}'")
            if window.end is not None:
                conds.append(f"\"{time_col}\" < TIMESTAMPTZ '{window.end.isoformat()}'")
            where = " WHERE " + " AND ".join(conds) if conds else ""
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM ({source}){where}')
    return out


def _parquet_source(con: duckdb.DuckDBPyConnection, lake: Lake, spec: ViewSpec, files: list[str]) -> str:
    assert spec.table is not None
    prefix = layout.table(spec.table).prefix
    name = spec.name
    if files and lake.is_s3:
        import pyarrow.dataset as ds  # only for S3: it pulls in pandas (0.3 s of start-up)

        dataset = ds.dataset([lake.path(f) for f in files], filesystem=lake.fs, format="parquet",
                             partitioning="hive", partition_base_dir=lake.path(prefix))
        con.register(f"__ds_{name}", dataset)
        return f'SELECT * FROM "__ds_{name}"'
    if files:
        listing = ", ".join(f"'{_q(lake.uri(f))}'" for f in files)
        # schemas are explicit and the same in every file, so no union_by_name (it reads every
        # file's footer while binding and doubled query time on many small files)
        return (f"SELECT * FROM read_parquet([{listing}], hive_partitioning = true, "
                "hive_types_autocast = false)")
    all_files = lake.table_files(spec.table)
    if all_files and not lake.is_s3:  # files exist, none in the window: same columns, no rows
        return (f"SELECT * FROM read_parquet('{_q(lake.uri(all_files[0]))}', hive_partitioning = true, "
                "hive_types_autocast = false) WHERE false")
    return empty_select(_with_partitions(spec.table, declared_schema(spec.table) or pa.schema([])))


def _jsonl_source(con: duckdb.DuckDBPyConnection, lake: Lake, spec: ViewSpec, files: list[str]) -> str:
    """``rejected``: JSON lines read with the REJECTED schema (``raw`` as text) plus ``dt``."""
    import pyarrow.json as pj

    schema = pa.schema([f if f.name != "raw" else pa.field("raw", pa.string()) for f in REJECTED])
    tables = []
    for f in files:
        data = lake.read_bytes(f)
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if not data.strip():
            continue
        try:
            t = pj.read_json(pa.BufferReader(data), parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"))
        except (pa.ArrowInvalid, ValueError) as exc:
            raise InputError(f"unreadable rejected-records file: {exc}", path=lake.uri(f)) from None
        dt = layout.parse_partition_path("errors", f.rsplit("/", 1)[0]).get("dt", "")
        tables.append(t.select(schema.names).append_column("dt", pa.array([dt] * t.num_rows, pa.string())))
    if not tables:
        return empty_select(schema.append(pa.field("dt", pa.string())))
    table = pa.concat_tables(tables)
    con.register(f"__tbl_{spec.name}", table)
    return f'SELECT * FROM "__tbl_{spec.name}"'


def _alarm_state(con: duckdb.DuckDBPyConnection, lake: Lake) -> str:
    """``alarm_state`` from ``alarms/state.json`` (a list of alarms or a name → state mapping)."""
    rows: list[dict[str, Any]] = []
    if lake.exists("alarms/state.json"):
        doc = lake.read_json("alarms/state.json")
        if isinstance(doc, dict) and isinstance(doc.get("alarms"), list | dict):
            doc = doc["alarms"]
        if isinstance(doc, dict):
            rows = [{"alarm_name": k, **(v if isinstance(v, dict) else {"state_value": v})}
                    for k, v in doc.items()]
        elif isinstance(doc, list):
            rows = [r for r in doc if isinstance(r, dict)]
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        cols = {k: [_scalar(r.get(k)) for r in rows] for k in keys}
        table = pa.table({k: pa.array(v) if len({type(x) for x in v if x is not None}) <= 1
                          else pa.array([None if x is None else str(x) for x in v]) for k, v in cols.items()})
    else:
        return empty_select(FALLBACK_SCHEMAS["alarm_state"])
    con.register("__tbl_alarm_state", table)
    return 'SELECT * FROM "__tbl_alarm_state"'


def _with_partitions(table: str, schema: pa.Schema) -> pa.Schema:
    for key in layout.table(table).partitions:
        if key not in schema.names and key not in layout.table(table).plain:
            schema = schema.append(pa.field(key, pa.string()))
    return schema


def _scalar(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _q(text: str) -> str:
    return text.replace("'", "''")
