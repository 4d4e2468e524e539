"""One shard's durable record log: append-only segment files with checksummed frames.

A shard is a folder of segments ``<start offset:020d>.log``; a record's *offset* is its byte
position in the shard (across segments), which is what its sequence number encodes. Frame::

    b"WK" | data length u32 | arrival ms i64 | partition-key length u16 | crc32 u32 | key | data

Guarantees:
- :meth:`ShardLog.append` (caller holds the shard lock) returns only after the frames are
  written and ``fsync``-ed: a record whose put returned survives a crash of the process or host;
- a torn frame left by a writer killed mid-append is never returned to readers (length and CRC
  checks) and is truncated away by the next append;
- arrival times never decrease within a shard, so AT_TIMESTAMP positions are well defined;
- retention deletes whole sealed segments whose last write is older than the retention period,
  and readers skip individual records older than it.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

_HDR = struct.Struct("<2sIqHI")
HEADER_SIZE = _HDR.size
MAGIC = b"WK"
MAX_RECORD_BYTES = 1 << 20  # data + partition key, as Kinesis' default limit


@dataclass
class Frame:
    offset: int
    arrival_ms: int
    partition_key: str
    data: bytes


def _crc(arrival_ms: int, key: bytes, data: bytes) -> int:
    return zlib.crc32(data, zlib.crc32(key, zlib.crc32(struct.pack("<q", arrival_ms))))


def encode(arrival_ms: int, key: bytes, data: bytes) -> bytes:
    return _HDR.pack(MAGIC, len(data), arrival_ms, len(key), _crc(arrival_ms, key, data)) + key + data


def parse(buf: bytes | memoryview, base: int, pos: int = 0, limit: int | None = None,
          max_bytes: int | None = None) -> tuple[list[Frame], int]:
    """Complete, valid frames in ``buf`` from ``pos``; returns them and the position after the last.

    ``base`` is the shard offset of ``buf[0]``. Stops at the first incomplete or corrupt frame.
    """
    out: list[Frame] = []
    n, total = len(buf), 0
    view = memoryview(buf)
    while pos + HEADER_SIZE <= n and (limit is None or len(out) < limit):
        magic, dlen, arrival, klen, crc = _HDR.unpack_from(view, pos)
        end = pos + HEADER_SIZE + klen + dlen
        if magic != MAGIC or end > n:
            break
        key = bytes(view[pos + HEADER_SIZE: pos + HEADER_SIZE + klen])
        data = bytes(view[pos + HEADER_SIZE + klen: end])
        if _crc(arrival, key, data) != crc:
            break
        if max_bytes is not None and out and total + dlen > max_bytes:
            break
        out.append(Frame(base + pos, arrival, key.decode("utf-8"), data))
        total += dlen
        pos = end
    return out, pos


class ShardLog:
    """The segments of one shard folder."""

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
        """Offset just after the last valid record (where the next append goes)."""
        segs = self.segments()
        if not segs:
            return 0
        start, path = segs[-1]
        return start + self._valid_size(path)[0]

    def _valid_size(self, path: str) -> tuple[int, int]:
        """(size up to the last complete frame, last arrival ms) of a segment."""
        size = os.path.getsize(path)
        if self._tail and self._tail[0] == path and self._tail[1] == size:
            return self._tail[1], self._tail[2]
        pos, last = 0, 0
        if self._tail and self._tail[0] == path and self._tail[1] < size:
            pos, last = self._tail[1], self._tail[2]
        with open(path, "rb") as f:
            f.seek(pos)
            buf = f.read()
        frames, end = parse(buf, 0)
        if frames:
            last = frames[-1].arrival_ms
        return pos + end, last

    def append(self, records: list[tuple[bytes, bytes]], now_ms: int) -> list[tuple[int, int]]:
        """Append ``(partition key, data)`` records durably; returns ``(offset, arrival ms)`` each.

        The caller must hold the shard's lock.
        """
        os.makedirs(self.folder, exist_ok=True)
        segs = self.segments()
        if not segs:
            start, path = 0, os.path.join(self.folder, f"{0:020d}.log")
            size, last = 0, 0
        else:
            start, path = segs[-1]
            size, last = self._valid_size(path)
            if size >= self.segment_bytes:
                start, size = start + size, 0
                path = os.path.join(self.folder, f"{start:020d}.log")
        arrival = max(now_ms, last)
        out, chunks, pos = [], [], size
        for key, data in records:
            frame = encode(arrival, key, data)
            out.append((start + pos, arrival))
            chunks.append(frame)
            pos += len(frame)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)  # drop a torn frame left by a killed writer
            os.lseek(fd, size, os.SEEK_SET)
            payload = memoryview(b"".join(chunks))
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

    def read(self, offset: int, limit: int = 10_000, max_bytes: int = 10 << 20) -> tuple[list[Frame], int]:
        """Records from ``offset`` on (at most ``limit`` records / ``max_bytes`` of data) and the
        offset to continue from. An offset before the oldest segment reads from the oldest."""
        segs = self.segments()
        if not segs:
            return [], offset
        offset = max(offset, segs[0][0])
        frames: list[Frame] = []
        for i, (start, path) in enumerate(segs):
            nxt = segs[i + 1][0] if i + 1 < len(segs) else None
            if nxt is not None and offset >= nxt:
                continue
            pos = offset - start
            with open(path, "rb") as f:
                f.seek(pos)
                buf = f.read(max_bytes + MAX_RECORD_BYTES + 4096)
            got, end = parse(buf, offset, 0, limit - len(frames), max_bytes)
            frames += got
            offset += end
            if nxt is None or len(frames) >= limit or offset < nxt:
                break
            offset = nxt
        return frames, offset

    def frame_at(self, offset: int) -> Frame | None:
        """The record that starts exactly at ``offset``, or None."""
        frames, _ = self.read(offset, limit=1)
        return frames[0] if frames and frames[0].offset == offset else None

    def offset_at_time(self, ts_ms: int) -> int:
        """Offset of the first record that arrived at or after ``ts_ms`` (the end if none)."""
        segs = self.segments()
        for i, (start, path) in enumerate(segs):
            if i + 1 < len(segs) and os.path.getmtime(path) * 1000 < ts_ms:
                continue  # every record of a sealed segment is older than its last write
            offset = start
            while True:
                frames, nxt = self.read(offset, limit=10_000)
                for fr in frames:
                    if fr.arrival_ms >= ts_ms:
                        return fr.offset
                if not frames or nxt == offset:
                    break
                offset = nxt
        return self.end_offset()

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
