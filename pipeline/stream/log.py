"""One shard's durable record log: append-only segment files of checksummed, columnar chunks.

A shard is a folder of segments ``<start offset:020d>.log``. Each put appends one *chunk* per
shard (split at :data:`MAX_CHUNK_BYTES`) holding its records column-wise, so reading never loops
over records in Python: lengths are read with numpy and the keys and data become Arrow arrays
over the chunk's bytes. Chunk layout::

    b"WC" | count u32 | arrival ms i64 | payload length u32 | crc32(payload) u32 |
    payload = key lengths u16[count] | data lengths u32[count] | keys | data

A record's position is ``(chunk offset, index in chunk)``; its sequence number encodes both.

Guarantees:
- :meth:`ShardLog.append` (caller holds the shard lock) returns only after the chunk is written
  and ``fsync``-ed: a record whose put returned survives a crash of the process or host;
- a torn chunk left by a writer killed mid-append is never returned to readers (length and CRC
  checks) and is truncated away by the next append;
- arrival times never decrease within a shard, so AT_TIMESTAMP positions are well defined;
- retention deletes whole sealed segments whose last write is older than the retention period,
  and readers skip chunks older than it.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

_HDR = struct.Struct("<2sIqII")
HEADER_SIZE = _HDR.size
MAGIC = b"WC"
MAX_RECORD_BYTES = 1 << 20  # data + partition key, as Kinesis' default limit
MAX_CHUNK_BYTES = 32 << 20
MAX_CHUNK_RECORDS = 65_536


@dataclass
class Chunk:
    """Records ``first .. first+len-1`` of the chunk at ``offset`` (all share ``arrival_ms``)."""

    offset: int
    first: int
    arrival_ms: int
    keys: pa.Array
    data: pa.Array

    def __len__(self) -> int:
        return len(self.keys)

    def slice(self, start: int, length: int | None = None) -> Chunk:
        n = len(self) - start if length is None else length
        return Chunk(self.offset, self.first + start, self.arrival_ms, self.keys.slice(start, n),
                     self.data.slice(start, n))


def encode(arrival_ms: int, records: Sequence[tuple[bytes, bytes]]) -> bytes:
    n = len(records)
    klens = np.fromiter((len(k) for k, _ in records), dtype="<u2", count=n)
    dlens = np.fromiter((len(d) for _, d in records), dtype="<u4", count=n)
    payload = b"".join([klens.tobytes(), dlens.tobytes(), *(k for k, _ in records), *(d for _, d in records)])
    return _HDR.pack(MAGIC, n, arrival_ms, len(payload), zlib.crc32(payload)) + payload


def _offsets(lens: np.ndarray) -> pa.Buffer:
    out = np.zeros(len(lens) + 1, dtype=np.int32)
    np.cumsum(lens, out=out[1:])
    return pa.py_buffer(out)


def parse(buf: bytes, base: int, pos: int = 0) -> tuple[list[Chunk], int]:
    """Complete, valid chunks in ``buf`` from ``pos``; returns them and the position after the last.

    ``base`` is the shard offset of ``buf[0]``. Stops at the first incomplete or corrupt chunk.
    """
    out: list[Chunk] = []
    n = len(buf)
    view = memoryview(buf)
    while pos + HEADER_SIZE <= n:
        magic, count, arrival, plen, crc = _HDR.unpack_from(view, pos)
        start, end = pos + HEADER_SIZE, pos + HEADER_SIZE + plen
        if magic != MAGIC or end > n or zlib.crc32(view[start:end]) != crc:
            break
        klens = np.frombuffer(buf, dtype="<u2", count=count, offset=start)
        dlens = np.frombuffer(buf, dtype="<u4", count=count, offset=start + 2 * count)
        kstart = start + 6 * count
        ksize = int(klens.sum(dtype=np.int64))
        keys = pa.Array.from_buffers(pa.string(), count, [None, _offsets(klens),
                                                          pa.py_buffer(view[kstart:kstart + ksize])])
        data = pa.Array.from_buffers(pa.binary(), count, [None, _offsets(dlens),
                                                          pa.py_buffer(view[kstart + ksize:end])])
        out.append(Chunk(base + pos, 0, arrival, keys, data))
        pos = end
    return out, pos


class ShardLog:
    """The segments of one shard folder. Positions are ``(chunk offset, record index)``."""

    def __init__(self, folder: str, segment_bytes: int = 64 << 20):
        self.folder, self.segment_bytes = folder, segment_bytes
        self._tail: tuple[str, int, int] | None = None  # (segment path, valid size, last arrival)

    def segments(self) -> list[tuple[int, str]]:
        """``(start offset, path)`` of every segment, oldest first."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted((int(n[:-4]), os.path.join(self.folder, n)) for n in names
                      if n.endswith(".log") and n[:-4].isdigit())

    def first_offset(self) -> int:
        segs = self.segments()
        return segs[0][0] if segs else 0

    def end_offset(self) -> int:
        """Offset just after the last valid chunk (where the next append goes)."""
        segs = self.segments()
        if not segs:
            return 0
        start, path = segs[-1]
        return start + self._valid_size(path)[0]

    def _valid_size(self, path: str) -> tuple[int, int]:
        """(size up to the last complete chunk, last arrival ms) of a segment."""
        size = os.path.getsize(path)
        if self._tail and self._tail[0] == path and self._tail[1] == size:
            return self._tail[1], self._tail[2]
        pos, last = 0, 0
        if self._tail and self._tail[0] == path and self._tail[1] < size:
            pos, last = self._tail[1], self._tail[2]
        with open(path, "rb") as f:
            f.seek(pos)
            buf = f.read()
        chunks, end = parse(buf, 0)
        if chunks:
            last = chunks[-1].arrival_ms
        return pos + end, last

    def append(self, records: Sequence[tuple[bytes, bytes]], now_ms: int) -> list[tuple[int, int, int]]:
        """Append ``(partition key, data)`` records durably; returns ``(chunk offset, index,
        arrival ms)`` per record. The caller must hold the shard's lock."""
        os.makedirs(self.folder, exist_ok=True)
        segs = self.segments()
        if not segs:
            start, path, size, last = 0, os.path.join(self.folder, f"{0:020d}.log"), 0, 0
        else:
            start, path = segs[-1]
            size, last = self._valid_size(path)
            if size >= self.segment_bytes:
                start, size = start + size, 0
                path = os.path.join(self.folder, f"{start:020d}.log")
        arrival = max(now_ms, last)
        out: list[tuple[int, int, int]] = []
        frames, pos, i = [], size, 0
        while i < len(records):
            j, total = i, 0
            while j < len(records) and (j == i or (j - i < MAX_CHUNK_RECORDS and total + len(records[j][0])
                                                   + len(records[j][1]) <= MAX_CHUNK_BYTES)):
                total += len(records[j][0]) + len(records[j][1])
                j += 1
            frame = encode(arrival, records[i:j])
            out += [(start + pos, k, arrival) for k in range(j - i)]
            frames.append(frame)
            pos += len(frame)
            i = j
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)  # drop a torn chunk left by a killed writer
            os.lseek(fd, size, os.SEEK_SET)
            payload = memoryview(b"".join(frames))
            while payload:
                payload = payload[os.write(fd, payload):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if size == 0:
            dfd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._tail = (path, pos, arrival)
        return out

    def read(self, offset: int, index: int = 0, limit: int = 10_000,
             max_bytes: int = 10 << 20) -> tuple[list[Chunk], tuple[int, int]]:
        """Records from position ``(offset, index)`` on — at most ``limit`` records and about
        ``max_bytes`` of data — and the position to continue from. A position before the oldest
        segment reads from the oldest."""
        segs = self.segments()
        if not segs:
            return [], (offset, index)
        if offset < segs[0][0]:
            offset, index = segs[0][0], 0
        got: list[Chunk] = []
        n, nbytes = 0, 0
        for i, (start, path) in enumerate(segs):
            nxt = segs[i + 1][0] if i + 1 < len(segs) else None
            if nxt is not None and offset >= nxt:
                continue
            with open(path, "rb") as f:
                f.seek(offset - start)
                buf = f.read(max(max_bytes, MAX_CHUNK_BYTES) + HEADER_SIZE + 6 * MAX_CHUNK_RECORDS)
            chunks, _ = parse(buf, offset)
            for c in chunks:
                if index:
                    c, index = c.slice(index), 0
                take = min(len(c), limit - n)
                if take < len(c):
                    got.append(c.slice(0, take))
                    return got, (c.offset, c.first + take)
                got.append(c)
                n += take
                nbytes += c.data.nbytes
                offset = c.offset + HEADER_SIZE + _payload_len(buf, c.offset - (chunks[0].offset))
                if n >= limit or nbytes >= max_bytes:
                    return got, (offset, 0)
            if nxt is None or offset < nxt:
                break
            offset = nxt
        return got, (offset, index)

    def chunk_at(self, offset: int) -> Chunk | None:
        """The chunk that starts exactly at ``offset``, or None."""
        chunks, _ = self.read(offset, 0, limit=1 << 30, max_bytes=1)
        return chunks[0] if chunks and chunks[0].offset == offset else None

    def position_at_time(self, ts_ms: int) -> tuple[int, int]:
        """Position of the first record that arrived at or after ``ts_ms`` (the end if none)."""
        segs = self.segments()
        for i, (start, path) in enumerate(segs):
            if i + 1 < len(segs) and os.path.getmtime(path) * 1000 < ts_ms:
                continue  # every record of a sealed segment is older than its last write
            pos = (start, 0)
            while True:
                chunks, nxt = self.read(*pos, limit=1 << 30, max_bytes=MAX_CHUNK_BYTES)
                for c in chunks:
                    if c.arrival_ms >= ts_ms:
                        return c.offset, c.first
                if not chunks or nxt == pos:
                    break
                pos = nxt
        return self.end_offset(), 0

    def trim(self, older_than_ms: int) -> int:
        """Delete sealed segments whose last write is before ``older_than_ms``; returns how many."""
        segs = self.segments()
        n = 0
        for _start, path in segs[:-1]:
            if os.path.getmtime(path) * 1000 < older_than_ms:
                os.unlink(path)
                n += 1
            else:
                break
        return n


def _payload_len(buf: bytes, rel: int) -> int:
    return int(_HDR.unpack_from(buf, rel)[3])
