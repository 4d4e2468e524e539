"""Kinesis shard maths: the 128-bit hash key space, MD5 partition-key hashing, sequence numbers.

>>> ranges = hash_ranges(4)
>>> ranges[0], ranges[-1][1] == 2**128 - 1
((0, 85070591730234615865843651857942052863), True)
>>> shard_for_key("a", ranges) == shard_for_hash(int.from_bytes(hashlib.md5(b"a").digest(), "big"), ranges)
True
"""

from __future__ import annotations

import bisect
import hashlib

from pipeline.errors import InputError

HASH_MAX = 2**128 - 1
SEQ_DIGITS = 56


def hash_ranges(shards: int) -> list[tuple[int, int]]:
    """Contiguous inclusive ``(StartingHashKey, EndingHashKey)`` ranges covering 0 … 2^128−1,
    split evenly as CreateStream does (the last shard takes the remainder)."""
    if not 1 <= shards <= 10_000:
        raise InputError("shard count must be between 1 and 10000", field="shards", value=shards)
    size = (HASH_MAX + 1) // shards
    out = [(i * size, (i + 1) * size - 1) for i in range(shards)]
    out[-1] = (out[-1][0], HASH_MAX)
    return out


def hash_key(partition_key: str) -> int:
    """MD5 of the UTF-8 partition key as a 128-bit unsigned integer (Kinesis' shard choice)."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_for_hash(h: int, ranges: list[tuple[int, int]]) -> int:
    """Index of the shard whose range holds hash key ``h``."""
    if not 0 <= h <= HASH_MAX:
        raise InputError("explicit hash key outside 0 … 2^128-1", field="ExplicitHashKey", value=str(h))
    return bisect.bisect_right([s for s, _ in ranges], h) - 1


def shard_for_key(partition_key: str, ranges: list[tuple[int, int]]) -> int:
    return shard_for_hash(hash_key(partition_key), ranges)


def shard_id(index: int) -> str:
    """``shardId-000000000003``."""
    return f"shardId-{index:012d}"


def sequence_number(shard: int, offset: int, index: int = 0) -> str:
    """A 56-digit sequence number, increasing with the record's position in its shard.

    Layout: ``49`` + 6 digits of shard index + 38 digits of chunk offset + 10 digits of index in
    the chunk; string order equals numeric order within a shard, and the number locates the
    record directly.
    """
    return f"49{shard:06d}{offset:038d}{index:010d}"


def parse_sequence_number(seq: str, shard: int | None = None) -> tuple[int, int, int]:
    """``(shard index, chunk offset, index)`` of a sequence number made by :func:`sequence_number`."""
    if len(seq) != SEQ_DIGITS or not seq.isdigit() or not seq.startswith("49"):
        raise InputError("not a sequence number of this stream", field="SequenceNumber", value=seq)
    idx, offset, index = int(seq[2:8]), int(seq[8:46]), int(seq[46:])
    if shard is not None and idx != shard:
        raise InputError(f"sequence number belongs to shard {idx}, not {shard}",
                         field="SequenceNumber", value=seq)
    return idx, offset, index
