"""What a data file is, and consistent listings of the lake (the only place that lists files).

A path below the lake root is a **data file** when

* no part of it starts with ``.`` or ``_`` (temporary files, ``_ledger/``, ``_state/``) and its
  name does not end with ``.tmp`` or ``.pending`` (a writer's unfinished file), and
* for a table's files, its name ends with the table's format (``.parquet``, ``.jsonl.gz``), and
* no unfinished replace of its table hides it (:func:`pipeline.lake.ledger.hidden_by_markers`):
  the files a prepared commit adds stay hidden until it commits; the files a committed commit
  retires are hidden from its commit point on.

Listings are *snapshots*: the replace markers of the tables involved are listed before and after
the data files, and the listing is taken again when they differ, so a listing never straddles a
commit: it holds either every file of a replace's old state or every file of its new one.
Listings take no lock (a loader lists while it holds a partition lock); one that keeps meeting
commits backs off and retries, up to :data:`SNAPSHOT_TIMEOUT` seconds (then
:class:`~pipeline.errors.LakeBusyError`).
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import LakeBusyError
from pipeline.lake import layout, ledger

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipeline.lake.store import Lake

SNAPSHOT_TIMEOUT = 60.0
"""Seconds a listing retries while commits keep changing its tables before it gives up."""
HIDDEN_SUFFIXES = (".tmp", ".pending")
"""Endings of a writer's unfinished files (atomic-write temporaries, compaction output)."""


@dataclass(frozen=True)
class Entry:
    """A file below the lake root: path relative to the root (``/``-separated), bytes, mtime."""

    path: str
    bytes: int
    mtime_ns: int


def is_data_path(rel: str) -> bool:
    """True when no part of ``rel`` is hidden (``.``/``_`` prefix) and it is no unfinished file."""
    parts = rel.strip("/").split("/")
    return not any(p.startswith((".", "_")) for p in parts) and not rel.endswith(HIDDEN_SUFFIXES)


def table_of(rel: str) -> str | None:
    """The table whose folder holds ``rel`` (longest prefix wins), or None."""
    best: tuple[int, str] | None = None
    for name, spec in layout.TABLES.items():
        if rel == spec.prefix or rel.startswith(spec.prefix + "/"):
            if best is None or len(spec.prefix) > best[0]:
                best = (len(spec.prefix), name)
    return best[1] if best else None


def is_table_file(table_name: str, rel: str) -> bool:
    """True when ``rel`` has the name of a data file of ``table_name`` (markers not consulted)."""
    spec = layout.table(table_name)
    return rel.startswith(spec.prefix + "/") and rel.endswith("." + spec.fmt) and is_data_path(rel)


def entries(lake: Lake, rel: str = "", *, recursive: bool = True) -> list[Entry]:
    """Every file below ``rel`` (hidden and temporary ones included), sorted by path; a missing
    folder lists as empty. For housekeeping (ledgers, temp-file cleanup); readers of table data
    use :func:`live`."""
    base = lake.path(rel)
    if not lake.is_s3:
        return sorted(_local_entries(base, len(lake.base) + 1, recursive), key=lambda e: e.path)
    import pyarrow.fs as pafs

    if lake.fs.get_file_info(base).type != pafs.FileType.Directory:
        return []
    out = []
    for info in lake.fs.get_file_info(pafs.FileSelector(base, recursive=recursive)):
        if info.type == pafs.FileType.File:
            out.append(Entry(info.path[len(lake.base) + 1:], int(info.size or 0), int(info.mtime_ns or 0)))
    return sorted(out, key=lambda e: e.path)


def _local_entries(folder: str, cut: int, recursive: bool) -> Iterator[Entry]:
    """The files below a local ``folder`` (os.scandir, as pyarrow's LocalFileSystem lists them:
    symlinks followed, a vanished entry skipped), paths cut to ``path[cut:]``."""
    try:
        it = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    with it:
        for d in it:
            try:
                if d.is_dir():
                    if recursive:
                        yield from _local_entries(d.path, cut, recursive)
                elif d.is_file():
                    st = d.stat()
                    yield Entry(d.path[cut:].replace(os.sep, "/"), st.st_size, st.st_mtime_ns)
            except FileNotFoundError:  # removed while listing
                continue


def _tables_under(rel: str) -> list[str]:
    rel = rel.strip("/")
    return sorted(name for name, spec in layout.TABLES.items()
                  if not rel or spec.prefix == rel or spec.prefix.startswith(rel + "/")
                  or rel.startswith(spec.prefix + "/"))


def live(lake: Lake, rel: str = "", *, suffix: str = "") -> list[Entry]:
    """The data files below ``rel`` (see the module docstring): one consistent snapshot per
    table (commits are per table, so a folder above several tables is listed table by table,
    each table's listing short enough to fall between its commits)."""
    rel = rel.strip("/")
    inside = table_of(rel)  # every file below rel belongs to this table (no nesting)
    tables = _tables_under(rel)
    if inside is None and tables:
        others = [e for e in entries(lake, rel) if table_of(e.path) is None
                  and e.path.endswith(suffix) and is_data_path(e.path)]
        per_table = [e for t in tables for e in _snapshot(lake, layout.TABLES[t].prefix, suffix, t)]
        return sorted(others + per_table, key=lambda e: e.path)
    return _snapshot(lake, rel, suffix, inside)


def _snapshot(lake: Lake, rel: str, suffix: str, inside: str | None) -> list[Entry]:
    """Data files below ``rel``, a folder inside table ``inside`` (or outside every table)."""
    tables = [inside] if inside is not None else []

    def keep(path: str) -> bool:
        if not path.endswith(suffix) or not is_data_path(path):
            return False
        t = inside or table_of(path)
        return t is None or path.endswith("." + layout.TABLES[t].fmt)

    def once() -> tuple[list[Entry], set[str], bool]:
        # markers (names, then the contents of unfinished ones), files, markers again: equal
        # names before and after mean no commit changed state meanwhile, so the contents read
        # first describe the files listed (a commit's state changes only with its markers)
        before = {t: ledger.marker_names(lake, t) for t in tables}
        hidden: set[str] = set()
        for t, names in before.items():
            if names:
                hidden |= ledger.hidden_by_markers(lake, t, names)
        found = [e for e in entries(lake, rel) if keep(e.path)]
        after = {t: ledger.marker_names(lake, t) for t in tables}
        return found, hidden, before == after

    t0 = time.monotonic()
    for attempt in itertools.count():
        found, hidden, stable = once()
        if stable:
            break
        waited = time.monotonic() - t0
        if waited > SNAPSHOT_TIMEOUT:
            raise LakeBusyError(lake.uri(rel), waited)
        time.sleep(min(0.002 * 2 ** attempt, 0.2))  # no lock here: a loader holding a folder lock lists too
    return [e for e in found if e.path not in hidden] if hidden else found


def table_live(lake: Lake, table_name: str, folder: str | None = None) -> list[Entry]:
    """The live data files of one table (or of one partition folder of it)."""
    spec = layout.table(table_name)
    rel = folder if folder is not None else spec.prefix
    if rel != spec.prefix and not rel.startswith(spec.prefix + "/"):
        from pipeline.errors import LayoutError

        raise LayoutError("folder", rel, f"not below table {table_name}")
    return live(lake, rel, suffix="." + spec.fmt)


def table_lock(table_name: str) -> str:
    """Name of the lock a table's replace commits hold (see :mod:`pipeline.lake.locks`)."""
    return f"table:{layout.table(table_name).name}"
