"""What the rollup jobs have built, and the data clock.

The state (``_state/rollups.json`` in the lake; hidden from every table) records, per job and
target partition, the source partitions it was built from, each with a fingerprint of its
files (path, size, mtime). A rerun rebuilds only partitions whose sources changed, and
retention refuses to drop a source partition no job has rolled up yet.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.lake import layout
from pipeline.schemas import EVENT_TIME
from pipeline.timeutil import EPOCH

if TYPE_CHECKING:
    from pipeline.lake import Lake

STATE_PATH = "_state/rollups.json"


@dataclass(frozen=True)
class SourceFile:
    rel: str
    size: int
    mtime_ns: int


def listing(lake: Lake, table_name: str) -> dict[str, list[SourceFile]]:
    """Data files of a table grouped by partition folder (relative paths), with size and mtime."""
    out: dict[str, list[SourceFile]] = defaultdict(list)
    for e in lake.table_entries(table_name):
        out[e.path.rsplit("/", 1)[0]].append(SourceFile(e.path, e.bytes, e.mtime_ns))
    return {k: sorted(v, key=lambda f: f.rel) for k, v in sorted(out.items())}


def fingerprint(files: list[SourceFile]) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for f in sorted(files, key=lambda f: f.rel):
        h.update(f"{f.rel}\0{f.size}\0{f.mtime_ns}\n".encode())
    return h.hexdigest()


def load_state(lake: Lake) -> dict[str, Any]:
    if not lake.exists(STATE_PATH):
        return {"version": 1, "jobs": {}}
    state: dict[str, Any] = lake.read_json(STATE_PATH)
    state.setdefault("jobs", {})
    return state


def save_state(lake: Lake, state: dict[str, Any]) -> None:
    lake.write_json(STATE_PATH, state)


def consumed(state: dict[str, Any], job_name: str, source_folder: str) -> bool:
    """True when ``job_name`` has built from ``source_folder`` at least once."""
    for entry in state.get("jobs", {}).get(job_name, {}).values():
        if source_folder in entry.get("sources", ()):
            return True
    return False


def newest_time(lake: Lake, table_name: str, files: dict[str, list[SourceFile]] | None = None
                ) -> datetime | None:
    """The newest event time in a raw table (read from its newest partition only): from the
    files' Parquet footers (each row group's maximum) when every row group has one, else by
    reading the column."""
    import duckdb

    files = listing(lake, table_name) if files is None else files
    if not files:
        return None
    column = EVENT_TIME.get(table_name, "timestamp")
    newest = max(files, key=lambda folder: tuple(layout.parse_partition_path(table_name, folder).values()))
    found = footer_max(lake, [f.rel for f in files[newest]], column)
    if found is None or isinstance(found, datetime):
        return found
    uris = [lake.uri(f.rel) for f in files[newest]]
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute(f'SELECT max("{column}") FROM read_parquet(?, union_by_name = true)',
                          [uris]).fetchone()
    finally:
        con.close()
    value = row[0] if row else None
    return value if isinstance(value, datetime) else None


_PER_SECOND = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}


def footer_max(lake: Lake, rels: list[str], column: str) -> datetime | None | bool:
    """The largest value of the timestamp ``column`` of Parquet files ``rels``, from the maxima
    their footers keep per row group (to the microsecond, as DuckDB's ``max`` reads it; ``None``
    when every value is null or there are no rows); ``False`` when some file lacks the column as
    a timestamp or some row group with values lacks its maximum (the caller reads the column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    best: int | None = None
    for rel in rels:
        with lake.fs.open_input_file(lake.path(rel)) as fh:
            md = pq.read_metadata(fh)
        arrow = md.schema.to_arrow_schema()
        typ = arrow.field(column).type if arrow.get_field_index(column) >= 0 else None
        if typ is None or not pa.types.is_timestamp(typ) or typ.tz is None:
            return False
        unit = _PER_SECOND[typ.unit]
        leaf = next((j for j in range(md.num_columns) if md.schema.column(j).path == column), None)
        if leaf is None:
            return False
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            stats = rg.column(leaf).statistics
            if rg.num_rows == 0 or (stats is not None and stats.null_count == rg.num_rows):
                continue  # nothing, or only nulls, in this row group
            if stats is None or not stats.has_min_max or stats.physical_type != "INT64":
                return False
            us = stats.max_raw * 1_000_000 // unit
            best = us if best is None else max(best, us)
    if best is None:
        return None
    return EPOCH + timedelta(microseconds=best)


def data_clock(lake: Lake) -> datetime | None:
    """The data clock: the newest event time across raw metrics and CloudTrail."""
    times = [t for t in (newest_time(lake, "metrics"), newest_time(lake, "cloudtrail")) if t]
    return max(times) if times else None
