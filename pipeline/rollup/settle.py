"""Closed tier partitions as one file per job: the merge, and which partitions are still open.

A tier partition (a ``dt`` day; a ``month`` for 1h) is *closed* for a job when it ends at or
before the job's recompute cutoff ``floor(clock − tiers.recompute_window_minutes, period)``: no
incremental step writes into it any more (late data older than the cutoff is reported, and
``--full`` rebuilds). While open, a partition holds chunk and bucket files
(:mod:`pipeline.rollup.chunks`) so a live step rewrites little; once closed it is worth one file
(a 15-day ``metrics get`` opened ~370 files of the 5m tier, each read whole, instead of 15 sorted
ones of which it reads a row group or two).

A write into a closed partition (a first build, ``--full``) already produces that file
(:func:`pipeline.rollup.chunks.replace_runs` with ``cutoff_ms``). The partitions that closed
after their last write are merged by :func:`settle`, which the incremental step calls after each
job: it keeps the job's *open* partitions (those written while open) in the rollup state, so a
step looks at no listing and reads no file until a partition closes — then merges it once (one
commit of :func:`pipeline.lake.replace.replacing`: a reader sees the chunk files or the merged
file, never both; a crash leaves one or the other, and the next step's merge of an already
merged partition is a listing of its folder and nothing else). The merge streams: DuckDB sorts the
partition's rows (spilling to disk past :data:`MERGE_MEMORY`) and they are written batch by batch
into a hidden file that the commit moves into place (:func:`write_sorted`), so a day of 10 k
series is never held in memory; a merge killed while writing leaves that hidden file, which the
next merge of the partition deletes.

One owner per table: the raw-table compaction (:mod:`pipeline.loader.compact`, ``watchlake
compact``) touches only the raw tables; the tier tables' files are laid out here only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa

from pipeline.errors import WriteError
from pipeline.lake import layout
from pipeline.lake.replace import replacing
from pipeline.lake.store import write_row_groups
from pipeline.rollup import chunks, rowgroups
from pipeline.rollup.schema import ROLLUP, ROW_GROUP_ROWS, SKETCH_BINS, SKETCH_COUNTS, SORT_KEYS
from pipeline.rollup.tiers import JOBS, Job, target_partition

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from pipeline.lake import Lake


def closed(job: Job, folder: str, cutoff_ms: int) -> bool:
    """True when target partition ``folder`` of ``job`` ends at or before ``cutoff_ms``."""
    return chunks.partition_ms(layout.parse_partition_path(job.target, folder))[1] <= cutoff_ms


def merge(lake: Lake, job: Job, folder: str, clock_ms: int, cutoff_ms: int) -> int:
    """Rewrite ``job``'s files of the closed partition ``folder`` as one partition file, rows
    sorted by series and time (:data:`SORT_KEYS`), in one atomic commit; returns the rows written
    (0 when they were one file already, or there were none).

    On a local lake the rows are streamed (:func:`write_sorted`: DuckDB sorts, spilling to disk
    past :data:`MERGE_MEMORY`; batches are written as they come) into a hidden pending file that
    the commit moves into place, so a day of 10 k series is never held in memory. A partition that
    is not closed at ``cutoff_ms``, and an ``s3://`` lake (DuckDB reads no S3 here), go through
    :func:`pipeline.rollup.chunks.replace_runs` in memory."""
    values = layout.parse_partition_path(job.target, folder)
    p_lo, p_hi = chunks.partition_ms(values)
    with replacing(lake, job.target) as tx:
        if lake.is_s3 or p_hi > cutoff_ms:
            return chunks.replace_runs(tx, job, folder, values, [], ROLLUP.empty_table(), clock_ms,
                                       cutoff_ms=cutoff_ms)
        mine = [(rel, r) for rel in tx.files(folder) if (r := chunks.file_range(job, rel, values)) is not None]
        _drop_unfinished(lake, folder, job)
        if not mine or chunks.is_merged([r for _, r in mine], values):
            return 0
        rels = [rel for rel, _ in mine]
        pending = f"{folder}/.settle-{job.tag}-{tx.commit}.pending"
        try:
            rows = write_sorted(lake, rels, pending)
        except BaseException:
            lake.delete(pending)
            raise
        for rel in rels:
            tx.retire(rel)
        if rows:
            tx.add_file(pending, f"{folder}/{layout.file_name(tag=chunks.tag(job, p_lo, p_hi - p_lo))}", rows)
        else:
            lake.delete(pending)
    return rows


MERGE_MEMORY = "2GB"
"""DuckDB's memory limit while it sorts a partition's rows (:func:`write_sorted`); past it the
sort spills to a temporary folder. A day of 1m rows of 10,000 series (14.4 M rows, 144 files;
``benchmarks/bench_settle.py``, load 14-17) took 40 CPU-s and 7.1 GB peak RSS merged in memory;
streamed with 2 GB: 40 CPU-s, 2.2 GB; with 1 GB: 46 CPU-s, 1.2 GB; with 512 MB: 60 CPU-s,
0.7 GB (spilling costs CPU). At 463 series nothing spills: 2.3 vs 3.2 CPU-s in memory."""


def _drop_unfinished(lake: Lake, folder: str, job: Job) -> None:
    """Delete the pending files a merge of ``job`` killed before its commit left in ``folder``
    (call holding the folder's lock: no merge is writing one)."""
    for e in lake.entries(folder, recursive=False):
        name = e.path.rsplit("/", 1)[-1]
        if name.startswith(f".settle-{job.tag}-") and name.endswith(".pending"):
            lake.delete(e.path)


_DUCK_TYPES = {pa.string(): "VARCHAR", pa.int32(): "INTEGER", pa.float64(): "DOUBLE",
               ROLLUP.field("timestamp").type: "TIMESTAMPTZ", SKETCH_BINS: "INTEGER[]", SKETCH_COUNTS: "DOUBLE[]"}
"""The DuckDB type of each :data:`ROLLUP` column type (a rollup module may not import
:mod:`pipeline.query`, which reads the tiers)."""


def sorted_query(files: list[str]) -> str:
    """DuckDB SQL: the :data:`ROLLUP` columns of ``files`` (absolute paths), in :data:`SORT_KEYS`
    order (nulls last, as :meth:`pyarrow.Table.sort_by` puts them)."""
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    cols = ", ".join(f'CAST("{f.name}" AS {_DUCK_TYPES[f.type]}) AS "{f.name}"' for f in ROLLUP)
    order = ", ".join(f'"{k}" ASC NULLS LAST' for k in SORT_KEYS)
    return (f"SELECT {cols} FROM read_parquet([{listing}], hive_partitioning = false, union_by_name = true) "
            f"ORDER BY {order}")


def _writer(sink: BinaryIO, first: pa.Table) -> pq.ParquetWriter:
    """A Parquet writer of :data:`ROLLUP` rows with :meth:`pipeline.lake.Lake.write_parquet`'s options."""
    import pyarrow.parquet as pq

    from pipeline.lake.encoding import dictionary_columns_cached
    from pipeline.lake.store import PARQUET_COMPRESSION

    return pq.ParquetWriter(sink, ROLLUP, compression=PARQUET_COMPRESSION,
                            use_dictionary=dictionary_columns_cached(first, rowgroups.SERIES_GROUP_ROWS))


def write_sorted(lake: Lake, rels: list[str], pending: str) -> int:
    """Write the rows of the local tier files ``rels``, sorted by :data:`SORT_KEYS`, to the hidden
    file ``pending`` (fsync-ed), as :meth:`pipeline.lake.Lake.write_parquet` writes a table:
    exactly the :data:`ROLLUP` schema, series-aligned row groups (:func:`pipeline.rollup.rowgroups.lengths`,
    as :func:`pipeline.rollup.chunks.replace_runs` writes a closed partition), zstd, the same
    dictionary columns. Returns the rows written; raises :class:`~pipeline.errors.WriteError`
    when they are not the rows the files' footers count (nothing is lost silently).

    DuckDB sorts (memory held to :data:`MERGE_MEMORY`, spilling past it) and hands the sorted rows
    over in batches of :data:`ROW_GROUP_ROWS`; each batch is cast to :data:`ROLLUP` (DuckDB's
    timestamps are microseconds), and once two batches' rows are held every row group but the last
    (which may still grow) is written: at most about three batches are held."""
    import tempfile

    import duckdb
    import pyarrow.parquet as pq

    expected = sum(pq.read_metadata(lake.path(rel)).num_rows for rel in rels)
    target = lake.path(pending)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    rows = 0
    with tempfile.TemporaryDirectory(prefix="watchlake-settle-") as spill:
        con = duckdb.connect(config={"memory_limit": MERGE_MEMORY, "temp_directory": spill})
        try:
            con.execute("SET TimeZone = 'UTC'")
            reader = con.sql(sorted_query([lake.path(r) for r in rels])).to_arrow_reader(ROW_GROUP_ROWS)
            with open(target, "wb") as sink:
                writer: pq.ParquetWriter | None = None
                held: list[pa.RecordBatch] = []
                n_held = 0
                for batch in reader:
                    held.append(batch.cast(ROLLUP))
                    n_held += batch.num_rows
                    if n_held < 2 * ROW_GROUP_ROWS:  # past ROW_GROUP_ROWS rows a group is complete
                        continue
                    t = pa.Table.from_batches(held, ROLLUP)
                    writer = writer or _writer(sink, t)
                    groups = rowgroups.lengths(t)[:-1]  # the last group may still grow
                    whole = sum(groups)
                    write_row_groups(writer, t.slice(0, whole), groups)
                    rest = t.slice(whole)
                    held, n_held, rows = rest.to_batches(), rest.num_rows, rows + whole
                t = pa.Table.from_batches(held, ROLLUP)
                writer = writer or _writer(sink, t)
                write_row_groups(writer, t, rowgroups.lengths(t))
                rows += n_held
                writer.close()
                sink.flush()
                os.fsync(sink.fileno())
        finally:
            con.close()
    if rows != expected:
        raise WriteError(lake.uri(pending), f"merged {rows} rows of {len(rels)} files holding {expected}")
    return rows


def settle(lake: Lake, job: Job, open_folders: Iterable[str], written: Iterable[str], clock_ms: int,
           cutoff_ms: int) -> tuple[list[str], list[str]]:
    """Merge the partitions of ``open_folders`` (and of ``written``, the partitions ``job`` just
    wrote) that are closed at ``cutoff_ms``; returns ``(still open, merged)``. A written
    partition that was closed when written is one file already and is not looked at."""
    todo = set(open_folders) | {f for f in written if not closed(job, f, cutoff_ms)}
    still, merged = [], []
    for folder in sorted(todo):
        if closed(job, folder, cutoff_ms):
            merge(lake, job, folder, clock_ms, cutoff_ms)
            merged.append(folder)
        else:
            still.append(folder)
    return still, merged


def open_targets(days: Iterable[str], cutoffs: dict[str, int]) -> dict[str, list[str]]:
    """Per job (by name), the target partitions of the source ``dt`` ``days`` that are not closed
    at the job's cutoff (``cutoffs``, by job name): what a new incremental state starts with."""
    out: dict[str, list[str]] = {}
    for job in JOBS:
        folders = {layout.partition_path(job.target, target_partition(job, {"dt": d})) for d in days}
        out[job.name] = sorted(f for f in folders if not closed(job, f, cutoffs[job.name]))
    return out


def all_targets(lake: Lake) -> dict[str, list[str]]:
    """Per job, every partition folder of its target table (a state written before partitions
    were merged starts with these, so an existing lake's closed days are merged once)."""
    return {job.name: sorted(folder for _, folder in lake.iter_partitions(job.target)) for job in JOBS}
