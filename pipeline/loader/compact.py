"""``watchlake compact``: merge a partition's small files into one, atomically and resumably.

Per partition, holding the partition lock (so loaders wait, and never de-duplicate against a
half-swapped folder):

1. stream the small files' rows, row group by row group, into a hidden ``.compact-<id>.pending``
   file (row groups of :data:`~pipeline.lake.store.ROW_GROUP_SIZE` rows; memory stays around one
   row group however large the partition);
2. fsync it and record a ``<id>.intent`` ledger entry (inputs, output);
3. rename the pending file to its visible ``part-…-<id>.parquet`` name, delete the inputs, write
   the ``compact`` ledger entry and drop the intent.

A crash before step 2 leaves only a hidden temporary file (deleted on the next visit); after
step 2 the next loader or compaction that visits the partition rolls the swap forward
(:func:`pipeline.loader.index.finish_compaction`). Between the rename and the deletes a reader
could briefly see both old and new files; nothing else can.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lake import layout, ledger
from pipeline.lake.locks import locked
from pipeline.lake.store import PARQUET_COMPRESSION, ROW_GROUP_SIZE
from pipeline.loader.index import KeyIndex, finish_compaction

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
    """Compact the small files of one partition folder; returns True if it merged files."""
    s = summary or CompactSummary()
    with locked(lake, folder):
        index = KeyIndex(lake, table_name)
        visible, _ = index.tidy(folder)  # rolls interrupted compactions forward, removes temp files
        s.recovered += index.recovered
        small = sorted(f for f in visible if lake.size(f) < small_bytes)
        if len(small) < min_files:
            return False
        schemas = {pq.read_schema(lake.path(f), filesystem=lake.fs).remove_metadata() for f in small}
        if len(schemas) > 1:
            s.skipped.append(f"{folder}: files have different schemas")
            return False
        schema = schemas.pop()
        commit = ids.next()
        pending = f"{folder}/.compact-{commit}.pending"
        output = f"{folder}/{layout.file_name(tag=commit)}"
        bytes_in = sum(lake.size(f) for f in small)
        rows = _write(lake, pending, small, schema)
        bytes_out = lake.size(pending)
        info = {"path": output, "rows": rows, "bytes": bytes_out}
        intent = {"commit": commit + ".intent", "inputs": small, "pending": pending, "output": output,
                  "files": [info], "rows": rows}
        ledger.write_entry(lake, table_name, folder, commit + ".intent", "compact", state="intent",
                           inputs=small, pending=pending, output=output, files=[info], rows=rows)
        finish_compaction(lake, table_name, folder, intent)
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
