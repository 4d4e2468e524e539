"""One read-only DuckDB session over a lake, shared by every dashboard page.

:class:`LakeDB` opens the lake's views once (one per lake table from
:func:`pipeline.query.duck.connect`, plus the SQL catalogue's ``metrics_raw``, ``alarm_state``,
``rejected`` …) and serialises queries with a lock: Streamlit runs each browser session in its
own thread and a DuckDB connection is not meant to be shared between threads mid-query.

Guarantees:
    * queries return polars DataFrames; pages check :meth:`LakeDB.has` before reading a view,
      so an empty or missing table is an empty state, never an error;
    * :func:`fingerprint` changes whenever a data file is added, replaced or removed, so caches
      keyed on it never serve stale results after new data lands.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.lake import Lake
from pipeline.lake.files import table_of

if TYPE_CHECKING:
    import polars as pl

TIME_COLUMNS: dict[str, str] = {
    "cloudtrail": "eventTime",
    "metrics": "timestamp",
    "logs": "timestamp",
    "records": "approximateArrivalTimestamp",
    "metrics_1h": "timestamp",
    "alarm_history": "timestamp",
    "anomalies": "timestamp",
    "insights": "eventTime",
    "findings": "time",
}
"""The event-time column of each time-partitioned table (what the time-range picker filters on)."""

EXTENT_FILTERS: dict[str, str] = {"alarm_history": "history_item_type = 'StateUpdate'"}
"""Rows that say where a table's data is: the Alarms page shows state changes, so an alarm
definition put today (a ``ConfigurationUpdate`` row stamped with the wall clock) must not move
its range away from the transitions."""

VIEW_TABLES: dict[str, str] = {"metrics_raw": "metrics", "rejected": "errors"}
"""Catalogue views whose lake table has another name."""

_PART_RE = re.compile(r"(?:^|/)(dt|hour|month)=([^/]+)")


@dataclass(frozen=True)
class LakeFile:
    """A data file below the lake root, with the table it belongs to."""

    path: str
    bytes: int
    table: str


def list_lake_files(lake: Lake) -> list[LakeFile]:
    """Every file below the lake root: table data files carry their table's name, other files
    (alarm state, rollup state …) ``"(<folder> state)"``; temp, hidden and ``_ledger`` files are
    excluded."""
    out: list[LakeFile] = []
    for e in lake.data_entries(""):  # the lake's own listing: committed files only
        table = table_of(e.path)
        out.append(LakeFile(e.path, e.bytes, table or f"({e.path.split('/')[0]} state)"))
    return out


def fingerprint(lake: Lake) -> str:
    """A short hash of the lake's data-file listing (names and sizes)."""
    h = hashlib.sha1()
    for f in list_lake_files(lake):
        h.update(f"{f.path}\0{f.bytes}\n".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Extent:
    """Where a table's data lies: ``oldest`` and ``latest`` event times, and ``newest``, the time
    a default range ends at (``latest`` unless the newest rows are a far-off stray)."""

    oldest: datetime | None
    newest: datetime | None
    latest: datetime | None


def _partition_key(path: str) -> tuple[str, ...]:
    return tuple(v for _, v in _PART_RE.findall(path))


class LakeDB:
    """A locked DuckDB connection with one view per lake table (see module docstring)."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self._lock = threading.Lock()
        self.con = _open(lake)
        self.con.execute("SET TimeZone = 'UTC'")
        self.files = list_lake_files(lake)
        self.views = self._views()
        self._alarm_rows: int | None = None

    def _views(self) -> set[str]:
        rows = self.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        return {r[0] for r in rows}

    def has(self, view: str) -> bool:
        """True when ``view`` exists and has data behind it (a file of its table, or rows)."""
        if view not in self.views:
            return False
        if view == "alarm_state":
            if self._alarm_rows is None:
                self._alarm_rows = int(self.rows("SELECT count(*) FROM alarm_state")[0][0])
            return self._alarm_rows > 0
        table = VIEW_TABLES.get(view, view)
        return any(f.table == table for f in self.files)

    def df(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run one read-only query and return its result as a polars DataFrame."""
        with self._lock:
            return self.con.sql(sql, params=params or []).pl()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.con.execute(sql, params or []).fetchall()

    def records(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts with nested structs kept as dicts (through Arrow)."""
        with self._lock:
            return self.con.sql(sql, params=params or []).arrow().read_all().to_pylist()

    def columns(self, view: str) -> list[str]:
        """Column names of a view (empty when it does not exist)."""
        if view not in self.views:
            return []
        with self._lock:
            return [r[0] for r in self.con.execute(f'DESCRIBE "{view}"').fetchall()]

    def extent(self, table: str) -> Extent:
        """Where a table's data is: its oldest and very newest event time, and the newest time a
        default range should end at — the newest partition that is not a far-off stray
        (:func:`dashboards.timerange.trusted_newest`; row counts come from the Parquet footers)."""
        from dashboards.timerange import partition_start, trusted_newest

        files = [f.path for f in self.files if f.table == table and f.path.endswith(".parquet")]
        col = TIME_COLUMNS.get(table)
        if not files or col is None:
            return Extent(None, None, None)
        by_key: dict[tuple[str, ...], list[str]] = {}
        for p in files:
            by_key.setdefault(_partition_key(p), []).append(self.lake.uri(p))
        if table in EXTENT_FILTERS:
            return self._filtered_extent(table, col, by_key)
        keys = sorted(k for k in by_key if k)
        if not keys:
            lo, hi = self.rows(f'SELECT min("{col}"), max("{col}") FROM read_parquet(?)',
                               [[u for us in by_key.values() for u in us]])[0]
            return Extent(lo, hi, hi)
        counts = dict(self.rows("SELECT file_name, num_rows FROM parquet_file_metadata(?)",
                                [[u for k in keys for u in by_key[k]]]))
        parts = [(partition_start(k), sum(int(counts.get(u) or 0) for u in by_key[k])) for k in keys]
        trusted = keys[trusted_newest(parts)]
        lo = self.rows(f'SELECT min("{col}") FROM read_parquet(?)', [by_key[keys[0]]])[0][0]
        hi = self.rows(f'SELECT max("{col}") FROM read_parquet(?)', [by_key[trusted]])[0][0]
        latest = hi if trusted == keys[-1] else self.rows(f'SELECT max("{col}") FROM read_parquet(?)',
                                                          [by_key[keys[-1]]])[0][0]
        return Extent(lo, hi, latest)

    def _filtered_extent(self, table: str, col: str, by_key: dict[tuple[str, ...], list[str]]) -> Extent:
        """:meth:`extent` over the rows of a small table that :data:`EXTENT_FILTERS` keeps."""
        from dashboards.timerange import partition_start, trusted_newest

        uris = [u for us in by_key.values() for u in us]
        stats = {f: (n, lo, hi) for f, n, lo, hi in self.rows(
            f'SELECT filename, count(*), min("{col}"), max("{col}") FROM read_parquet(?, filename = true) '
            f"WHERE {EXTENT_FILTERS[table]} GROUP BY filename", [uris])}
        parts = []
        for key in sorted(k for k in by_key if k):
            found = [stats[u] for u in by_key[key] if u in stats]
            if found:
                parts.append((key, sum(n for n, _, _ in found), min(lo for _, lo, _ in found),
                              max(hi for _, _, hi in found)))
        if not parts:
            return Extent(None, None, None)
        trusted = trusted_newest([(partition_start(k), n) for k, n, _, _ in parts])
        return Extent(parts[0][2], parts[trusted][3], parts[-1][3])

    def time_extent(self, table: str) -> tuple[datetime | None, datetime | None]:
        """Oldest and newest event time of a raw table, reading only its first and last
        partitions (Hive ``dt``/``hour`` order), so it stays fast on a large lake."""
        files = [f.path for f in self.files if f.table == table]
        col = TIME_COLUMNS.get(table)
        if not files or col is None:
            return None, None
        keyed = sorted(files, key=_partition_key)
        first_key, last_key = _partition_key(keyed[0]), _partition_key(keyed[-1])
        firsts = [self.lake.uri(p) for p in keyed if _partition_key(p) == first_key]
        lasts = [self.lake.uri(p) for p in keyed if _partition_key(p) == last_key]
        lo = self.rows(f'SELECT min("{col}") FROM read_parquet(?)', [firsts])[0][0]
        hi = self.rows(f'SELECT max("{col}") FROM read_parquet(?)', [lasts])[0][0]
        return lo, hi


def _open(lake: Lake) -> Any:
    """One view per lake table (``pipeline.query.duck``) plus the SQL catalogue's views
    (``metrics_raw``, ``alarm_state``, ``rejected`` …, ``pipeline.query.catalog``)."""
    from pipeline.query import catalog
    from pipeline.query.duck import connect

    con = connect(lake)
    catalog.build(con, lake)
    return con
