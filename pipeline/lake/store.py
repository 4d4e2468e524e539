"""A lake root on a local path or ``s3://bucket/prefix``, with atomic, complete-only writes.

Readers never see half a file: locally a file is written under a ``.tmp`` name in its target
folder, fsynced, then renamed into place (and the folder fsynced); on S3 the object appears only
when its single PUT / multipart upload completes. What counts as a data file, and every listing,
is decided in :mod:`pipeline.lake.files`; replacing rows of derived tables atomically is
:mod:`pipeline.lake.replace`.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pipeline.errors import WriteError
from pipeline.lake import files, layout

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    from pipeline.config import Settings

PARQUET_COMPRESSION = "zstd"
ROW_GROUP_SIZE = 128 * 1024
"""Rows per Parquet row group; tiny row groups made queries 10–30x slower (perf-baseline.md)."""


def write_row_groups(writer: pq.ParquetWriter, table: pa.Table, groups: Sequence[int]) -> None:
    """Write ``table`` through ``writer`` as one row group per length of ``groups`` (in order;
    they must sum to the table's rows)."""
    if sum(groups) != table.num_rows:
        raise ValueError(f"row groups of {sum(groups)} rows for a table of {table.num_rows}")
    offset = 0
    for g in groups:
        writer.write_table(table.slice(offset, g), row_group_size=g)
        offset += g


def s3_filesystem(endpoint_url: str | None = None, region: str = "us-east-1") -> pafs.S3FileSystem:
    """A pyarrow S3 filesystem for AWS or any S3-compatible endpoint (``http://host:port``).

    Credentials come from the usual AWS environment variables / profile chain.
    """
    import pyarrow.fs as pafs

    kwargs: dict[str, Any] = {"region": region}
    if endpoint_url:
        u = urlparse(endpoint_url)
        kwargs["endpoint_override"] = u.netloc or u.path
        kwargs["scheme"] = u.scheme or "https"
        kwargs["allow_bucket_creation"] = True
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        kwargs.update(access_key=key, secret_key=secret,
                      session_token=os.environ.get("AWS_SESSION_TOKEN"))
    return pafs.S3FileSystem(**kwargs)


@dataclass(frozen=True)
class FileInfo:
    """A committed file: its path relative to the lake root, rows and bytes."""

    path: str
    rows: int
    bytes: int


class Lake:
    """A lake root. Paths given to methods are relative to the root and use ``/``.

    pyarrow is imported only when something needs it (:attr:`fs`, Parquet writes): a short
    command that lists and reads a local lake through DuckDB never pays its 0.1 s import."""

    def __init__(self, root: str | Path, *, endpoint_url: str | None = None,
                 region: str = "us-east-1"):
        text = str(root)
        self.is_s3 = text.startswith("s3://")
        self.endpoint_url, self.region = endpoint_url, region
        self._fs: pafs.FileSystem | None = None
        if self.is_s3:
            self._fs = s3_filesystem(endpoint_url, region)
            self.base = text[len("s3://"):].rstrip("/")
            self.root = "s3://" + self.base
        else:
            self.base = str(Path(text).expanduser().resolve())
            self.root = self.base

    @property
    def fs(self) -> pafs.FileSystem:
        """The pyarrow filesystem of the root (S3, or local: created on first use)."""
        if self._fs is None:
            import pyarrow.fs as pafs

            self._fs = pafs.LocalFileSystem()
        return self._fs

    @fs.setter
    def fs(self, value: pafs.FileSystem) -> None:
        self._fs = value

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        s = settings.lake
        return cls(s.root, endpoint_url=s.s3_endpoint_url, region=s.s3_region)

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    # -- paths -------------------------------------------------------------------------------

    def path(self, rel: str = "") -> str:
        """Filesystem path (for ``self.fs``) of a path relative to the root."""
        rel = rel.strip("/")
        return f"{self.base}/{rel}" if rel else self.base

    def uri(self, rel: str = "") -> str:
        """A location DuckDB/pyarrow understand: an absolute local path or ``s3://…``."""
        p = self.path(rel)
        return f"s3://{p}" if self.is_s3 else p

    # -- listing -----------------------------------------------------------------------------

    def exists(self, rel: str) -> bool:
        if not self.is_s3:
            return os.path.exists(self.path(rel))
        import pyarrow.fs as pafs

        return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def entries(self, rel: str = "", *, recursive: bool = True) -> list[files.Entry]:
        """Every file below ``rel``, hidden and temporary ones included (housekeeping only)."""
        return files.entries(self, rel, recursive=recursive)

    def list_files(self, rel: str = "", suffix: str = "") -> list[str]:
        """Data files below ``rel`` (recursive), relative to the root, sorted: one consistent
        snapshot that honours the replace ledger (:mod:`pipeline.lake.files`). A missing folder
        lists as empty."""
        return [e.path for e in files.live(self, rel, suffix=suffix)]

    def data_entries(self, rel: str = "") -> list[files.Entry]:
        """:meth:`list_files` with each file's size and modification time."""
        return files.live(self, rel)

    def table_files(self, table_name: str, folder: str | None = None) -> list[str]:
        """The committed data files of a table (or of one of its partition folders), sorted."""
        return [e.path for e in files.table_live(self, table_name, folder)]

    def table_entries(self, table_name: str, folder: str | None = None) -> list[files.Entry]:
        """:meth:`table_files` with each file's size and modification time."""
        return files.table_live(self, table_name, folder)

    def size(self, rel: str) -> int:
        return int(self.fs.get_file_info(self.path(rel)).size or 0)

    # -- atomic writes -----------------------------------------------------------------------

    def write_bytes(self, rel: str, data: bytes) -> FileInfo:
        """Write ``data`` to ``rel`` as is, so that the file appears complete or not at all.

        The bytes are never re-encoded (pyarrow would gzip a ``*.gz`` name by default).

        Raises:
            WriteError: the write failed; no partial file is left at ``rel``.
        """
        target = self.path(rel)
        try:
            if self.is_s3:
                with self.fs.open_output_stream(target, compression=None) as out:
                    out.write(data)
            else:
                _local_atomic_write(target, data)
        except OSError as exc:
            raise WriteError(self.uri(rel), str(exc)) from exc
        return FileInfo(rel, 0, len(data))

    def write_parquet(self, rel: str, table: pa.Table, *, sort_by: list[str] | None = None,
                      row_group_size: int = ROW_GROUP_SIZE,
                      row_groups: Callable[[pa.Table], Sequence[int]] | None = None) -> FileInfo:
        """Write one Parquet file (zstd, row groups of ``row_group_size`` rows, default
        :data:`ROW_GROUP_SIZE`, or of the lengths ``row_groups`` gives for the (sorted) table;
        dictionary encoding where values repeat: :mod:`pipeline.lake.encoding`) atomically."""
        import pyarrow.parquet as pq

        from pipeline.lake.encoding import dictionary_columns_cached

        if sort_by:
            table = table.sort_by([(c, "ascending") for c in sort_by])
        buf = io.BytesIO()  # chunked input is written as is: same row groups, no copy to combine it
        if row_groups is None:
            pq.write_table(table, buf, compression=PARQUET_COMPRESSION, row_group_size=row_group_size,
                           use_dictionary=dictionary_columns_cached(table, row_group_size))
        else:
            lengths = row_groups(table)
            with pq.ParquetWriter(buf, table.schema, compression=PARQUET_COMPRESSION,
                                  use_dictionary=dictionary_columns_cached(table, max(lengths, default=0))) as writer:
                write_row_groups(writer, table, lengths)
        info = self.write_bytes(rel, buf.getvalue())
        return FileInfo(rel, table.num_rows, info.bytes)

    def write_partition(self, table_name: str, values: dict[str, str], table: pa.Table, *,
                        tag: str | None = None, sort_by: list[str] | None = None) -> FileInfo:
        """Write ``table`` as a new file in one validated partition of ``table_name``."""
        rel = f"{layout.partition_path(table_name, values)}/{layout.file_name(tag=tag)}"
        return self.write_parquet(rel, table, sort_by=sort_by)

    def write_json(self, rel: str, obj: Any) -> FileInfo:
        """Atomically write a JSON document (ledger entries, state files): indented when small (up
        to 64 KiB compact), compact when large — a detector state of hundreds of series is
        megabytes, and indenting takes Python's slow encoder (4–5× the time, 2.5× the bytes)."""
        text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
        if len(text) <= 65_536:
            text = json.dumps(obj, indent=1, sort_keys=True, default=str)
        return self.write_bytes(rel, text.encode())

    def read_bytes(self, rel: str) -> bytes:
        """The file's bytes exactly as stored (a ``.gz`` file is not decompressed)."""
        if not self.is_s3:
            with open(self.path(rel), "rb") as fh:
                return fh.read()
        with self.fs.open_input_stream(self.path(rel), compression=None) as f:
            return bytes(f.read())

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def move(self, src: str, dst: str) -> None:
        """Rename a complete file (atomic on a local lake; copy + delete on S3, where ``dst``
        appears complete or not at all)."""
        self.fs.move(self.path(src), self.path(dst))

    def delete(self, rel: str) -> None:
        """Delete a file or a whole folder; a missing path is not an error."""
        import pyarrow.fs as pafs

        p = self.path(rel)
        info = self.fs.get_file_info(p)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(p)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(p)

    def iter_partitions(self, table_name: str) -> Iterator[tuple[dict[str, str], str]]:
        """``(partition values, folder)`` for every leaf partition folder that holds files."""
        seen: set[str] = set()
        for f in self.table_files(table_name):
            folder = f.rsplit("/", 1)[0]
            if folder not in seen:
                seen.add(folder)
                yield layout.parse_partition_path(table_name, folder), folder


def _local_atomic_write(target: str, data: bytes) -> None:
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
