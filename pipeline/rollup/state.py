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
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.lake import layout
from pipeline.schemas import EVENT_TIME

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
    """The newest event time in a raw table (read from its newest partition only)."""
    import duckdb

    files = listing(lake, table_name) if files is None else files
    if not files:
        return None
    column = EVENT_TIME.get(table_name, "timestamp")
    newest = max(files, key=lambda folder: tuple(layout.parse_partition_path(table_name, folder).values()))
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


def data_clock(lake: Lake) -> datetime | None:
    """The data clock: the newest event time across raw metrics and CloudTrail."""
    times = [t for t in (newest_time(lake, "metrics"), newest_time(lake, "cloudtrail")) if t]
    return max(times) if times else None
