"""Replace rows of derived tables as one atomic, ledgered commit.

A commit retires whole files and adds new ones, in any number of partitions of one table; a
reader (:mod:`pipeline.lake.files`) sees either every old file or every new one, never both and
never neither, and a crash at any moment leaves the table in one of the two states.

Protocol (markers in ``_ledger/<table>/_replace/``, see :mod:`pipeline.lake.ledger`), holding the
table's lock (one commit at a time per table) and the lock of every partition folder it reads or
writes (so a loader, which locks one folder at a time, never interleaves):

1. ``<commit>.prepared.json`` names the files to add and the files to retire; readers hide the
   adds from now on;
2. each new file is written atomically under its final name, or a file already written under a
   hidden name is renamed to it (:meth:`Replace.add_file`); still hidden;
3. ``<commit>.committed.json`` — the commit point, one atomic write: readers now hide the
   retired files and show the adds;
4. the retired files are deleted, each partition gets a ``replace`` ledger entry (files added,
   files retired), ``<commit>.done.json`` is written and the other two markers removed.

:func:`recover` (run by every commit before it starts) rolls a crashed commit back when it has no
``committed`` marker (deleting its added files) and forward when it has one. Both are
idempotent. A finished commit's ``done`` marker stays until the next commit of the table, which
lets readers detect any commit that happened while they listed.

Use :func:`replacing` for a read-modify-write under the locks, or :func:`replace_rows` to
replace rows by key columns and/or a predicate and add new rows in one call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.errors import LayoutError
from pipeline.lake import files, layout, ledger
from pipeline.lake.files import is_data_path
from pipeline.lake.locks import locked
from pipeline.lake.store import FileInfo

if TYPE_CHECKING:
    from pipeline.lake.store import Lake


@dataclass
class ReplaceResult:
    """What one commit did: its id, files added and retired, rows written."""

    commit: str | None = None
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    rows: int = 0


@dataclass
class _Add:
    path: str
    table: pa.Table | None  # None: an already written hidden file, moved into place at commit
    sort_by: list[str] | None = None
    pending: str | None = None
    rows: int = 0
    row_group_size: int | None = None  # None: the lake's default
    row_groups: Callable[[pa.Table], Sequence[int]] | None = None  # row-group lengths of the sorted table


class Replace:
    """One open commit on ``table_name`` (from :func:`replacing`): read, retire, add.

    Nothing is written until the ``with`` block ends without an exception; a block that raises
    leaves the table exactly as it was.
    """

    def __init__(self, lake: Lake, table_name: str, stack: ExitStack, commit: str):
        self.lake, self.table_name, self.commit = lake, layout.table(table_name).name, commit
        self._stack = stack
        self._locked: set[str] = set()
        self._adds: list[_Add] = []
        self._retires: set[str] = set()
        self.result = ReplaceResult()

    def _lock(self, folder: str) -> None:
        if folder not in self._locked:
            self._stack.enter_context(locked(self.lake, folder))
            self._locked.add(folder)

    def files(self, folder: str | None = None) -> list[str]:
        """Live files of the table (or of one partition folder), listed after locking their
        folders, so no loader or compaction changes them until the commit ends."""
        if folder is not None:
            self._lock(folder)
        while True:
            out = self.lake.table_files(self.table_name, folder)
            new = {f.rsplit("/", 1)[0] for f in out} - self._locked
            if not new:
                return [f for f in out if f not in self._retires]
            for f in sorted(new):
                self._lock(f)

    def read(self, rel: str, schema: pa.Schema | None = None) -> pa.Table:
        """One live file of the table, cast to ``schema`` (its columns, in order) if given."""
        with self.lake.fs.open_input_file(self.lake.path(rel)) as fh:
            t = pq.read_table(fh)
        return t.select(schema.names).cast(schema) if schema is not None else t

    def retire(self, rel: str) -> None:
        """Remove a live file of the table at commit."""
        if files.table_of(rel) != self.table_name or not files.is_table_file(self.table_name, rel):
            raise LayoutError("file", rel, f"not a data file of {self.table_name}")
        self._lock(rel.rsplit("/", 1)[0])
        self._retires.add(rel)

    def add(self, values: Mapping[str, str], table: pa.Table, *, tag: str | None = None,
            sort_by: list[str] | None = None, row_group_size: int | None = None,
            row_groups: Callable[[pa.Table], Sequence[int]] | None = None) -> str:
        """Add ``table`` as a new file of partition ``values`` at commit (written by
        :meth:`pipeline.lake.Lake.write_parquet` with these options); returns its path."""
        folder = layout.partition_path(self.table_name, values)
        self._lock(folder)
        rel = f"{folder}/{layout.file_name(tag=tag)}"
        self._adds.append(_Add(rel, table, sort_by, row_group_size=row_group_size, row_groups=row_groups))
        return rel

    def add_file(self, pending: str, rel: str, rows: int) -> str:
        """Add a file already written completely (and fsync-ed) under the hidden name ``pending``
        in the folder of ``rel``; it is moved to ``rel`` at commit. For writers that stream large
        files (compaction) instead of handing over a table."""
        folder = rel.rsplit("/", 1)[0]
        if pending.rsplit("/", 1)[0] != folder or is_data_path(pending) \
                or not files.is_table_file(self.table_name, rel):
            raise LayoutError("file", rel, f"not a new data file of {self.table_name} beside {pending}")
        self._lock(folder)
        self._adds.append(_Add(rel, None, pending=pending, rows=rows))
        return rel

    @property
    def added(self) -> list[str]:
        """The files this commit adds (so far)."""
        return [a.path for a in self._adds]

    @property
    def retired(self) -> list[str]:
        """The files this commit retires (so far)."""
        return sorted(self._retires)

    def finish(self) -> ReplaceResult:
        """Commit (see the module docstring) and release the locks; the result is also on
        ``result``. Nothing is committed if it raises, and the locks are released either way."""
        try:
            self.result = self._commit()
        finally:
            self._stack.close()
        return self.result

    def abort(self) -> None:
        """Release the locks without committing anything."""
        self._stack.close()

    def _commit(self) -> ReplaceResult:
        res = ReplaceResult()
        if not self._adds and not self._retires:
            return res
        lake, name, commit = self.lake, self.table_name, self.commit
        adds, retires = [a.path for a in self._adds], sorted(self._retires)
        doc = {"commit": commit, "table": name, "adds": adds, "retires": retires}
        pending = [a.pending for a in self._adds if a.pending]
        lake.write_json(ledger.marker_path(name, commit, "prepared"),
                        {**doc, "state": "prepared", "pending": pending})
        written = _write_adds(lake, self._adds)
        infos = [{"path": i.path, "rows": i.rows, "bytes": i.bytes} for i in written]
        lake.write_json(ledger.marker_path(name, commit, "committed"),
                        {**doc, "state": "committed", "files": infos})
        _finish(lake, name, commit)
        return ReplaceResult(commit, adds, retires, sum(i.rows for i in written))


WRITERS = min(4, os.cpu_count() or 1)
"""Files of one commit encoded at once (pyarrow encodes and compresses a file without the GIL):
a rollup commit adds tens of files, and one core encoding them left the other idle."""


def _write_adds(lake: Lake, adds: list[_Add]) -> list[FileInfo]:
    """Write the tables and move the pending files of ``adds`` into place; their infos in order.
    Tables are written by up to :data:`WRITERS` threads; the first error is raised once every
    write has ended (the commit is then rolled back as one that failed writing a file)."""
    def write(a: _Add) -> FileInfo:
        if a.table is None:
            assert a.pending is not None
            lake.move(a.pending, a.path)
            return FileInfo(a.path, a.rows, lake.size(a.path))
        extra = {"row_group_size": a.row_group_size} if a.row_group_size else {}
        return lake.write_parquet(a.path, a.table, sort_by=a.sort_by, row_groups=a.row_groups, **extra)

    if WRITERS < 2 or sum(a.table is not None for a in adds) < 2:
        return [write(a) for a in adds]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(WRITERS, thread_name_prefix="wl-write") as pool:
        futures = [pool.submit(write, a) for a in adds]
    return [f.result() for f in futures]


def recover(lake: Lake, table_name: str) -> int:
    """Roll every unfinished commit of the table back (no ``committed`` marker) or forward, and
    drop the ``done`` markers of finished ones. Call holding the table's lock; idempotent.
    Returns the number of commits rolled back or forward."""
    name = layout.table(table_name).name
    for e in lake.entries(ledger.replace_folder(name), recursive=False):
        if e.path.endswith(".tmp"):
            lake.delete(e.path)  # a marker write killed before its rename
    states: dict[str, set[str]] = {}
    for marker in ledger.marker_names(lake, name):
        commit, state = ledger.parse_marker(marker)
        states.setdefault(commit, set()).add(state)
    n = 0
    for commit, have in sorted(states.items()):
        if "done" in have:
            for state in ("committed", "prepared"):
                lake.delete(ledger.marker_path(name, commit, state))
            lake.delete(ledger.marker_path(name, commit, "done"))
            continue
        n += 1
        if "committed" in have:
            with ExitStack() as stack:
                doc = lake.read_json(ledger.marker_path(name, commit, "committed"))
                for folder in sorted({p.rsplit("/", 1)[0] for p in [*doc["adds"], *doc["retires"]]}):
                    stack.enter_context(locked(lake, folder))
                _finish(lake, name, commit)
        else:
            doc = lake.read_json(ledger.marker_path(name, commit, "prepared"))
            with ExitStack() as stack:
                for folder in sorted({p.rsplit("/", 1)[0] for p in doc["adds"]}):
                    stack.enter_context(locked(lake, folder))
                for rel in [*doc["adds"], *doc.get("pending", [])]:
                    lake.delete(rel)
                    _remove_temp_of(lake, rel)
            lake.delete(ledger.marker_path(name, commit, "prepared"))
    return n


def _finish(lake: Lake, name: str, commit: str) -> None:
    """Step 4 of the protocol for a committed commit (idempotent)."""
    doc = lake.read_json(ledger.marker_path(name, commit, "committed"))
    for rel in doc["retires"]:
        lake.delete(rel)
    by_folder: dict[str, tuple[list[dict[str, object]], list[str]]] = {}
    for info in doc.get("files", []):
        by_folder.setdefault(info["path"].rsplit("/", 1)[0], ([], []))[0].append(info)
    for rel in doc["retires"]:
        by_folder.setdefault(rel.rsplit("/", 1)[0], ([], []))[1].append(rel)
    for folder, (added, retired) in sorted(by_folder.items()):
        ledger.write_entry(lake, name, folder, commit, "replace", files=added, retires=retired,
                           rows=sum(int(str(i["rows"])) for i in added))
    # not fsync-ed: a lost done marker only makes one reader re-list, and recovery ignores it
    ledger.write_doc(lake, ledger.marker_path(name, commit, "done"), {"commit": commit, "state": "done"})
    lake.delete(ledger.marker_path(name, commit, "committed"))
    lake.delete(ledger.marker_path(name, commit, "prepared"))


def _remove_temp_of(lake: Lake, rel: str) -> None:
    """Delete the temporary files a killed atomic write of ``rel`` left in its folder."""
    folder, base = rel.rsplit("/", 1)
    for e in lake.entries(folder, recursive=False):
        n = e.path.rsplit("/", 1)[-1]
        if n.startswith(f".{base}.") and n.endswith(".tmp"):
            lake.delete(e.path)


@contextmanager
def replacing(lake: Lake, table_name: str, *, commit: str | None = None) -> Iterator[Replace]:
    """Open a commit on ``table_name``: holds its lock, recovers crashed commits, yields a
    :class:`Replace`; commits when the block ends without an exception. The result is on
    ``tx.result`` afterwards. ``commit`` names the commit (default: a fresh id); a writer that
    tags its files with the commit id passes it."""
    tx = open_commit(lake, table_name, commit=commit)
    try:
        yield tx
    except BaseException:
        tx.abort()
        raise
    tx.finish()


def open_commit(lake: Lake, table_name: str, *, commit: str | None = None) -> Replace:
    """:func:`replacing` in two steps, for a writer that commits on another thread: the returned
    :class:`Replace` holds the table's lock (crashed commits recovered) until its
    :meth:`~Replace.finish` (commit) or :meth:`~Replace.abort` (nothing written), which may be
    called from any thread; the caller must call one of them."""
    stack = ExitStack()
    try:
        stack.enter_context(locked(lake, files.table_lock(table_name)))
        recover(lake, table_name)
    except BaseException:
        stack.close()
        raise
    return Replace(lake, table_name, stack, commit or ledger.new_run_id() + "000000")


Predicate = Callable[[pa.Table], "pa.Array | pa.ChunkedArray"]
Partitions = Sequence[Mapping[str, str]] | Callable[[], Iterable[Mapping[str, str]]]


def utc_days(ts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Each UTC timestamp's day as ``YYYY-MM-DD`` strings (``strftime("%Y-%m-%d")``'s text, by a
    date cast: ~12× faster on a job's rows)."""
    return pc.cast(pc.cast(ts, pa.date32()), pa.string())


def day_partitions(prefix: str, ts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Each timestamp's day partition folder, ``prefix`` + ``YYYY-MM-DD`` (a ``partition_of``)."""
    return pc.binary_join_element_wise(prefix, utc_days(ts), "")


def replace_rows(lake: Lake, table_name: str, new: pa.Table, *, schema: pa.Schema,
                 partition_of: Callable[[pa.Table], pa.Array], key: Sequence[str] = (),
                 where: Predicate | None = None, partitions: Partitions = (),
                 only: Callable[[str], bool] | None = None, tag: str | None = None,
                 sort_by: list[str] | None = None, merge: bool = True) -> ReplaceResult:
    """Merge ``new`` into ``table_name`` as one atomic commit.

    ``partition_of(table)`` gives each row's partition folder (``layout.partition_path``). In
    every partition of ``new`` and every partition in ``partitions`` (or that ``partitions()``
    returns, called under the table's lock), the live files (those for
    which ``only(path)`` is true, when given) are rewritten as one file holding their rows minus
    the rows whose ``key`` columns equal a row of ``new`` and minus the rows where
    ``where(rows)`` is true, plus the partition's rows of ``new``. A partition left empty keeps no
    file. Rows of other partitions and files ``only`` rejects are untouched. With ``merge=False``
    a file that loses no row is left as it is (new rows then go to a file of their own).
    """
    new = new.select(schema.names).cast(schema)
    folders = pc.cast(partition_of(new), pa.string()) if new.num_rows else pa.array([], pa.string())
    with replacing(lake, table_name) as tx:
        extra = partitions() if callable(partitions) else partitions
        todo = set(folders.to_pylist()) | {layout.partition_path(table_name, v) for v in extra}
        for folder in sorted(todo):
            values = layout.parse_partition_path(table_name, folder)
            mine = new.filter(pc.equal(folders, folder)) if new.num_rows else new
            parts = []
            for rel in tx.files(folder):
                if only is not None and not only(rel):
                    continue
                old = tx.read(rel, schema)
                drop = _drop_mask(old, mine, key, where)
                if not merge and (drop is None or not pc.any(drop).as_py()):
                    continue
                parts.append(old.filter(pc.invert(drop)) if drop is not None else old)
                tx.retire(rel)
            merged = pa.concat_tables([*parts, mine]) if parts else mine
            if merged.num_rows:
                tx.add(values, merged, tag=tag, sort_by=sort_by)
    return tx.result


def _drop_mask(old: pa.Table, new: pa.Table, key: Sequence[str], where: Predicate | None) -> pa.Array | None:
    masks = []
    if key and new.num_rows and old.num_rows:
        masks.append(pc.is_in(_key_column(old, key), value_set=_key_column(new, key)))
    if where is not None and old.num_rows:
        masks.append(pc.fill_null(where(old), False))
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        out = pc.or_(out, m)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _key_column(t: pa.Table, key: Sequence[str]) -> pa.Array:
    if len(key) == 1:
        col = t.column(key[0])
        return (col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col).cast(pa.string())
    parts = [pc.cast(t.column(k), pa.string()) for k in key]
    return pc.binary_join_element_wise(*[pc.fill_null(p, "\x00") for p in parts], "\x1f").combine_chunks()

