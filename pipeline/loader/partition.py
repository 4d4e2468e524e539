"""Column-wise preparation of reader batches: validation, record keys and event-time partitions.

Everything here works on whole Arrow columns; Python touches one value per *partition* (or per
rejected row), never one per loaded record.

Guarantees:
- a row is loaded only with a non-null event time inside the accepted range (:func:`time_bounds`;
  always inside years 1000–9999), a complete record key
  and, for ``records``, a stream name that is a legal partition value; any other row becomes a
  :class:`~pipeline.sources.base.Rejection` naming the field, with the row as JSON in ``raw``;
- partition values come from the event time (and the validated stream name) only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import LayoutError, SchemaMismatchError
from pipeline.lake import layout
from pipeline.schemas import EVENT_TIME, PREFIX, RAW_SCHEMAS, RECORD_KEYS
from pipeline.sources.base import Rejection

_MS_HOUR = 3_600_000
_MS_DAY = 86_400_000
_MIN_MS = int((datetime(1000, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
_MAX_MS = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
               - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
_STREAM_SLOT = 10_000_000  # > number of days in years 1970..9999
KEY_SEP = "\x1f"


def conform(table_name: str, table: pa.Table, origin: str) -> pa.Table:
    """Return ``table`` in the exact raw schema of ``table_name`` (same columns, order, types).

    Raises:
        SchemaMismatchError: a column is missing or cannot be cast (a reader bug, not bad input).
    """
    schema = RAW_SCHEMAS[table_name]
    if table.schema.equals(schema):
        return table
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise SchemaMismatchError(f"batch lacks column of table {table_name}", path=origin, field=missing[0])
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaMismatchError(f"batch does not match the {table_name} schema: {exc}", path=origin) from None


def stamp_ingest_time(table: pa.Table, now: datetime) -> pa.Table:
    """Set ``_wl_ingest_time`` (when the loader accepted the rows) on every row."""
    name = f"{PREFIX}ingest_time"
    idx = table.schema.get_field_index(name)
    col = pa.array(np.full(table.num_rows, int(now.timestamp() * 1000), dtype="int64")).cast(
        table.schema.field(name).type)
    return table.set_column(idx, name, col)


def key_array(table_name: str, table: pa.Table) -> pa.Array:
    """The record key of every row as one string column (multi-column keys joined by U+001F)."""
    cols = RECORD_KEYS[table_name]
    parts = []
    for c in cols:
        col = table.column(c)
        if c == f"{PREFIX}origin":  # (metrics) only the repeat number `#n` at its end counts
            col = pc.fill_null(pc.struct_field(pc.extract_regex(col, r"#(?P<n>\d+)$"), [0]), "0")
        elif pa.types.is_timestamp(col.type):
            col = pc.cast(pc.cast(col, pa.int64()), pa.string())
        elif not pa.types.is_string(col.type):
            col = pc.cast(col, pa.string())
        parts.append(col)
    if len(parts) == 1:
        out = parts[0]
    else:
        out = pc.binary_join_element_wise(*parts, KEY_SEP)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _row_rejections(table_name: str, table: pa.Table, mask: pa.Array, field: str, reason: str) -> list[Rejection]:
    import orjson

    bad = table.filter(mask).drop_columns([f"{PREFIX}ingest_time"])  # raw = the row as read
    out = []
    origins = bad.column(f"{PREFIX}origin").to_pylist()
    for origin, row in zip(origins, bad.to_pylist()):
        raw = orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS)
        out.append(Rejection(table_name, origin or "", None, field, reason, raw))
    return out


@dataclass(frozen=True)
class TimeBounds:
    """The accepted event-time range ``[lo_ms, hi_ms]`` of one table, with the rejection reasons."""

    lo_ms: int = _MIN_MS
    hi_ms: int = _MAX_MS
    too_old: str = "event time outside years 1000-9999"
    too_new: str = "event time outside years 1000-9999"


FUTURE_SETTING = {"cloudtrail": "loader.max_future_minutes", "records": "loader.max_future_minutes",
                  "metrics": "loader.metrics_future_minutes", "logs": "loader.metrics_future_minutes"}


def time_bounds(table_name: str, now: datetime, *, future_minutes: int = 15, metrics_future_minutes: int = 120,
                backfill: bool = True, max_age_days: int = 14) -> TimeBounds:
    """What event times ``table_name`` accepts at ``now`` (guaranteed inside years 1000-9999).

    CloudTrail events and Kinesis arrivals may not lie more than ``future_minutes`` ahead (clock
    skew); metric datapoints and log events ``metrics_future_minutes`` ahead and, unless
    ``backfill``, ``max_age_days`` back (CloudWatch PutMetricData / PutLogEvents: +2 h, -14 days).
    An event dated 9999-12-31 or in 2500 is therefore a rejection, not a partition that breaks
    every time range.
    """
    setting = FUTURE_SETTING[table_name]
    ahead = future_minutes if setting == "loader.max_future_minutes" else metrics_future_minutes
    now_ms = int(now.timestamp() * 1000)
    hi = min(_MAX_MS, now_ms + ahead * 60_000)
    lo, too_old = _MIN_MS, "event time before the year 1000"
    if not backfill and table_name in ("metrics", "logs"):
        lo = max(_MIN_MS, now_ms - max_age_days * _MS_DAY)
        too_old = f"event time more than {max_age_days} days in the past (loader.max_age_days; set loader.backfill)"
    return TimeBounds(lo, hi, too_old, f"event time more than {ahead} minutes in the future ({setting})")


def validate(table_name: str, table: pa.Table,
             bounds: TimeBounds | None = None) -> tuple[pa.Table, list[Rejection]]:
    """Split ``table`` into loadable rows and rejections (null or out-of-range event time — outside
    ``bounds``, default years 1000-9999 —, missing key field, illegal stream name)."""
    rejections: list[Rejection] = []
    ts_col = EVENT_TIME[table_name]
    b = bounds or TimeBounds()

    def ms(t: pa.Table) -> pa.ChunkedArray:
        return pc.cast(t.column(ts_col), pa.int64())

    checks: list[tuple[Callable[[pa.Table], Any], str, str]] = [
        (lambda t: pc.is_null(ms(t)), ts_col, "missing event time"),
        (lambda t: pc.less(ms(t), b.lo_ms), ts_col, b.too_old),
        (lambda t: pc.greater(ms(t), b.hi_ms), ts_col, b.too_new),
    ]
    for c in RECORD_KEYS[table_name]:
        checks.append((_missing_key(c), c, "missing record key field"))
    if table_name == "records":
        names = pc.unique(table.column("streamName")).to_pylist()
        bad = pa.array([n for n in names if n is not None and not _legal_stream(n)], pa.string())
        if len(bad):
            def illegal(t: pa.Table) -> Any:
                return pc.is_in(t.column("streamName"), value_set=bad)

            checks.append((illegal, "streamName", "stream name is not a legal partition value"))
    for check, fld, reason in checks:
        if not table.num_rows:
            break
        mask = pc.fill_null(check(table), False)
        if pc.any(mask).as_py():
            rejections += _row_rejections(table_name, table, mask, fld, reason)
            table = table.filter(pc.invert(mask))
    return table, rejections


def _missing_key(name: str) -> Callable[[pa.Table], Any]:
    def check(t: pa.Table) -> Any:
        return _missing(t.column(name))
    return check


def _missing(col: pa.ChunkedArray) -> Any:
    null = pc.is_null(col)
    if pa.types.is_string(col.type):
        null = pc.or_(null, pc.equal(pc.utf8_length(col), 0))
    return null


def _legal_stream(name: str) -> bool:
    try:
        layout.validate_partition("stream", name)
    except LayoutError:
        return False
    return True


def _partition_ids(table_name: str, table: pa.Table) -> np.ndarray:
    ms = pc.cast(table.column(EVENT_TIME[table_name]), pa.int64()).to_numpy(zero_copy_only=False)
    spec = layout.table(table_name)
    if "hour" in spec.partitions:
        return ms // _MS_HOUR
    ids = ms // _MS_DAY
    if "stream" in spec.partitions:
        enc = pc.dictionary_encode(table.column("streamName")).combine_chunks()
        ids = ids + enc.indices.to_numpy(zero_copy_only=False).astype("int64") * _STREAM_SLOT
    return ids


def _values(table_name: str, table: pa.Table, pid: int, first_row: int) -> dict[str, str]:
    spec = layout.table(table_name)
    if "hour" in spec.partitions:
        t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=int(pid))
        return {"dt": t.strftime("%Y-%m-%d"), "hour": t.strftime("%H")}
    day = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(pid % _STREAM_SLOT))
    values = {"dt": day.strftime("%Y-%m-%d")}
    if "stream" in spec.partitions:
        values["stream"] = table.column("streamName")[first_row].as_py()
    return values


def split(table_name: str, table: pa.Table) -> Iterator[tuple[dict[str, str], pa.Table]]:
    """``(partition values, rows)`` for every event-time partition the rows fall into."""
    if table.num_rows == 0:
        return
    ids = _partition_ids(table_name, table)
    if (ids == ids[0]).all():
        yield _values(table_name, table, int(ids[0]), 0), table
        return
    if (ids[1:] >= ids[:-1]).all():  # time-ordered input (the usual file): slices, no copy
        sorted_ids = ids
    else:
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        table = table.take(pa.array(order))
    bounds = np.flatnonzero(np.diff(sorted_ids)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(sorted_ids)]))
    for s, e in zip(starts.tolist(), ends.tolist()):
        yield _values(table_name, table, int(sorted_ids[s]), s), table.slice(s, e - s)


def first_occurrences(keys: pa.Array) -> np.ndarray | None:
    """Row indices that keep the first row of every key, in order; None when keys are unique."""
    n = len(keys)
    if n < 2:
        return None
    t = pa.table({"k": keys, "i": pa.array(np.arange(n, dtype="int64"))})
    g = t.group_by("k", use_threads=False).aggregate([("i", "min")])
    if g.num_rows == n:
        return None
    idx = np.sort(g.column("i_min").to_numpy())
    return idx
