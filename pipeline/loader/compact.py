"""``watchlake compact``: merge a partition's small files into one, atomically and resumably.

Per partition, as one commit of :mod:`pipeline.lake.replace` (holding the table's and the
partition's locks, so loaders wait and never de-duplicate against a half-swapped folder):

1. stream the small files' rows, row group by row group, into a hidden ``.compact-<id>.pending``
   file (row groups of :data:`~pipeline.lake.store.ROW_GROUP_SIZE` rows; memory stays around one
   row group however large the partition), fsync-ed — each input whole, in the order of their sorted paths (the order
   of the commit's ``retires``: a follower that processed some inputs reads only the others' rows,
   :meth:`jobs.detect_job.Follower.poll`);
2. commit: the ``prepared`` marker names the output and the inputs, the pending file is renamed
   to its ``part-…-<id>.parquet`` name, the ``committed`` marker makes the swap visible at once
   (readers see the inputs or the output, never both), then the inputs are deleted and the
   partition's ledger gets a ``replace`` entry.

A crash before the commit point leaves only hidden files (rolled back on the next visit); after it
the next compaction (or any replace of the table) rolls the swap forward, and readers and loaders
already see the output alone. Lakes with ``<id>.intent`` entries of the earlier protocol are
still rolled forward (:func:`pipeline.loader.index.finish_compaction`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lake import layout, ledger
from pipeline.lake.files import table_lock
from pipeline.lake.locks import locked
from pipeline.lake.replace import recover, replacing
from pipeline.lake.store import PARQUET_COMPRESSION, ROW_GROUP_SIZE
from pipeline.loader.index import KeyIndex

if TYPE_CHECKING:
    from pipeline.lake import Lake


@dataclass
class CompactSummary:
    partitions: int = 0
    compacted: int = 0
    files_in: int = 0
    files_out: int = 0
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    recovered: int = 0
    skipped: list[str] = field(default_factory=list)


def _batches(lake: Lake, files: list[str], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for rel in files:
        pf = pq.ParquetFile(lake.path(rel), filesystem=lake.fs)
        for batch in pf.iter_batches(batch_size=ROW_GROUP_SIZE):
            yield batch if batch.schema.equals(schema) else batch.cast(schema)


def _write(lake: Lake, pending: str, files: list[str], schema: pa.Schema) -> int:
    """Stream ``files`` into ``pending``; returns rows written."""
    rows, held, n_held = 0, [], 0
    if lake.is_s3:
        sink = lake.fs.open_output_stream(lake.path(pending), compression=None)
    else:
        os.makedirs(os.path.dirname(lake.path(pending)), exist_ok=True)
        sink = open(lake.path(pending), "wb")
    try:
        with pq.ParquetWriter(sink, schema, compression=PARQUET_COMPRESSION) as writer:
            for batch in _batches(lake, files, schema):
                held.append(batch)
                n_held += batch.num_rows
                if n_held >= ROW_GROUP_SIZE:
                    t = pa.Table.from_batches(held).combine_chunks()
                    writer.write_table(t.slice(0, ROW_GROUP_SIZE), row_group_size=ROW_GROUP_SIZE)
                    rest = t.slice(ROW_GROUP_SIZE)
                    held, n_held = rest.to_batches(), rest.num_rows
                    rows += ROW_GROUP_SIZE
            if n_held:
                writer.write_table(pa.Table.from_batches(held, schema), row_group_size=ROW_GROUP_SIZE)
                rows += n_held
        if not lake.is_s3:
            sink.flush()
            os.fsync(sink.fileno())
    finally:
        sink.close()
    return rows


def compact_partition(lake: Lake, table_name: str, folder: str, ids: ledger.CommitIds, *,
                      small_bytes: int = 64 << 20, min_files: int = 2,
                      summary: CompactSummary | None = None) -> bool:
    """Compact the small files of one partition folder as one atomic commit of
    :mod:`pipeline.lake.replace`; returns True if it merged files."""
    s = summary or CompactSummary()
    commit = ids.next()
    with replacing(lake, table_name, commit=commit) as tx:
        tx.files(folder)  # holds the folder's lock from here on: loaders wait
        index = KeyIndex(lake, table_name)
        visible, _ = index.tidy(folder)  # rolls older intent-style compactions forward, removes temp files
        s.recovered += index.recovered
        small = sorted(f for f in visible if lake.size(f) < small_bytes)
        if len(small) < min_files:
            return False
        schemas = {pq.read_schema(lake.path(f), filesystem=lake.fs).remove_metadata() for f in small}
        if len(schemas) > 1:
            s.skipped.append(f"{folder}: files have different schemas")
            return False
        pending = f"{folder}/.compact-{commit}.pending"
        bytes_in = sum(lake.size(f) for f in small)
        rows = _write(lake, pending, small, schema=schemas.pop())
        bytes_out = lake.size(pending)
        for f in small:
            tx.retire(f)
        tx.add_file(pending, f"{folder}/{layout.file_name(tag=commit)}", rows)
    s.compacted += 1
    s.files_in += len(small)
    s.files_out += 1
    s.rows += rows
    s.bytes_in += bytes_in
    s.bytes_out += bytes_out
    return True


def compact(lake: Lake, tables: list[str], *, small_bytes: int = 64 << 20, min_files: int = 2,
            progress: object | None = None) -> CompactSummary:
    """Compact every partition of ``tables``; safe to interrupt and rerun."""
    from pipeline.console import Progress

    s = CompactSummary()
    ids = ledger.CommitIds(ledger.new_run_id())
    for name in tables:
        with locked(lake, table_lock(name)):
            s.recovered += recover(lake, name)  # a crashed compaction, even of a now empty partition
        parts = [folder for _, folder in lake.iter_partitions(name)]
        parts += _partitions_with_intents(lake, name, set(parts))
        for folder in parts:
            s.partitions += 1
            compact_partition(lake, name, folder, ids, small_bytes=small_bytes, min_files=min_files, summary=s)
            if isinstance(progress, Progress):
                progress.advance(1, f"{s.compacted} compacted")
    return s


def _partitions_with_intents(lake: Lake, table_name: str, known: set[str]) -> list[str]:
    """Partition folders whose only trace is an unfinished compaction (all files hidden)."""
    prefix = layout.table(table_name).prefix
    root = f"{layout.LEDGER_PREFIX}/{table_name}"
    out: list[str] = []
    for e in lake.entries(root):
        if e.path.endswith(".intent.json"):
            below = e.path[len(root) + 1:].rsplit("/", 1)[0]
            folder = f"{prefix}/{below}"
            if folder not in known and folder not in out:
                out.append(folder)
    return out
