"""An in-process cache of one series' rows per tier file, for long-running processes.

A dashboard, the alarm evaluator or ``watchlake run`` asks for the same series again and again
over ranges that are mostly closed days, whose files never change: a lake file is never
rewritten in place (every write adds a new file under a new name and retires the old one,
:mod:`pipeline.lake.replace`). So one series' rows of a file, keyed on the file's path, size
and modification time, stay valid for as long as the file is listed, and a later query of the
series reads from the lake only the files it has not seen (a new bucket or chunk file of the
open day, a merged day).

:class:`SeriesRows` holds such rows as Arrow tables, least recently used first out, within a
byte budget (:data:`CACHE_BYTES`). :func:`series_rows` answers one series' rows of a list of
files from the cache and reads the others in one DuckDB scan. Used by
:func:`pipeline.query.metrics.get_metric_data` when pyarrow is loaded (not by a one-shot
command, which would only fill it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeline.lake.files import Entry

CACHE_BYTES = 64 * 1024 * 1024
"""The rows a process keeps (Arrow bytes): a series over 15 days of the 5m tier is ~0.6 MB with
its sketches (4,320 rows), so ~100 such series."""

COLUMNS = ["unit", "timestamp", "sample_count", "sum", "min", "max", "sketch_count"]
"""The tier columns a ``metrics get`` reads for every statistic; pNN adds :data:`SKETCH`."""

SKETCH = ["sketch_bins", "sketch_bin_counts"]

Key = tuple[str, int, int, str, str, str, bool]
"""(file location, bytes, modification time ns, namespace, metric name, dimensions JSON, with the
sketch columns)."""


class UnmatchedFiles(Exception):
    """DuckDB's ``filename`` of some rows is none of the locations given (nothing is cached)."""


class SeriesRows:
    """A byte-bounded LRU map of :data:`Key` to one series' rows of one file (thread-safe)."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[Key, pa.Table] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> pa.Table | None:
        with self._lock:
            t = self._rows.get(key)
            if t is None:
                self.misses += 1
                return None
            self._rows.move_to_end(key)
            self.hits += 1
            return t

    def put(self, key: Key, rows: pa.Table) -> None:
        """Keep ``rows`` under ``key``, evicting the least recently used past :attr:`max_bytes`
        (rows larger than the whole budget are not kept)."""
        size = rows.nbytes
        with self._lock:
            old = self._rows.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            if size > self.max_bytes:
                return
            self._rows[key] = rows
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, evicted = self._rows.popitem(last=False)
                self.bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self.bytes = self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)


CACHE = SeriesRows()
"""The process's cache (:func:`pipeline.query.metrics.get_metric_data` uses it)."""


def series_rows(con: Any, files: list[tuple[str, Entry]], namespace: str, metric_name: str, dimensions: str,
                sketch: bool, cache: SeriesRows = CACHE) -> pa.Table:
    """:data:`COLUMNS` (and with ``sketch`` :data:`SKETCH`) of every row of series ``(namespace,
    metric_name, dimensions)`` (any unit, any time) in ``files`` — ``(location, listing entry)``
    pairs — as one Arrow table, in file order: cached rows for the files seen before, one DuckDB
    scan (``con``) of the others, whose rows are then cached per file (an empty table for a file
    without the series).

    Raises:
        duckdb.Error: a file lacks a column (written before the columnar sketch) or is damaged.
        UnmatchedFiles: rows DuckDB attributes to a file name not given.
    """
    import pyarrow as pa

    keys: list[Key] = [(uri, e.bytes, e.mtime_ns, namespace, metric_name, dimensions, sketch) for uri, e in files]
    got: list[pa.Table | None] = [cache.get(k) for k in keys]
    missing = [i for i, t in enumerate(got) if t is None]
    if missing:
        cols = ", ".join(f'"{c}"' for c in COLUMNS + (SKETCH if sketch else []))
        fresh = con.sql(f"SELECT filename, {cols} FROM read_parquet($files, filename = true) "
                        "WHERE namespace = $ns AND metric_name = $metric AND dimensions = $dims",
                        params={"files": [files[i][0] for i in missing], "ns": namespace, "metric": metric_name,
                                "dims": dimensions}).to_arrow_table()
        split = _by_file(fresh, [files[i][0] for i in missing])
        for i, rows in zip(missing, split, strict=True):
            cache.put(keys[i], rows)
            got[i] = rows
    tables = [t for t in got if t is not None]
    return pa.concat_tables(tables) if tables else pa.table({})


def _by_file(rows: pa.Table, locations: list[str]) -> list[pa.Table]:
    """``rows`` (with DuckDB's ``filename`` column) as one table per location, in the order of
    ``locations``, rows in their order inside each, without the ``filename`` column: one stable
    sort by the location's position, then slices (a filter per file cost ~2.5 ms over 30 files).

    Raises:
        UnmatchedFiles: some row's file name is none of ``locations``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.rollup.merge import to_numpy

    at = pc.index_in(rows.column("filename"), value_set=pa.array(locations, pa.string()))
    rows = rows.drop_columns(["filename"])
    if at.null_count:
        raise UnmatchedFiles(f"DuckDB named the files of {at.null_count} rows otherwise than they were given")
    position = to_numpy(at, np.int64)
    if len(position) and not bool((position[1:] >= position[:-1]).all()):
        order = np.argsort(position, kind="stable")
        rows, position = rows.take(pa.array(order)), position[order]
    rows = rows.combine_chunks()
    ends = np.cumsum(np.bincount(position, minlength=len(locations)))
    return [rows.slice(int(e) - int(n), int(n)) for e, n in zip(ends, np.diff(np.append(0, ends)), strict=True)]
