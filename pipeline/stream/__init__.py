"""A Kinesis-Data-Streams-like durable, sharded, replayable record log on local disk, and
consumers (local or a real Kinesis endpoint) with checkpoints kept by watchlake."""

from __future__ import annotations

from pipeline.stream.store import ITERATOR_TYPES, PutResult, Stream

__all__ = ["ITERATOR_TYPES", "PutResult", "Stream"]
