"""``watchlake load --from-stream``: drain a stream consumer into the loader.

A :class:`StreamDelivery` step polls every shard, hands the records to the :class:`~pipeline.loader.Loader` (which
buffers by size and time per partition), and after each poll moves the consumer's checkpoints
to just before the oldest record still buffered. A crash therefore re-reads at most what was not
yet committed (at-least-once from the stream) and the loader's de-duplication by
``(streamName, shardId, sequenceNumber)`` keeps the lake exactly-once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from pipeline.loader.core import Loader, LoadSummary
from pipeline.sources.base import Batch
from pipeline.sources.limits import DEFAULT_LIMITS, Limits
from pipeline.stream.consumer import BaseConsumer


def routed(table: pa.Table, origin: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of one shard's records with payload routing: CloudTrail events, CloudWatch Logs
    subscription payloads and Metric Streams lines go to their own tables, the rest to
    ``records`` — each record routed directly by :func:`pipeline.sources.kinesis_files.route_table`."""
    from pipeline.sources.kinesis_files import route_table

    return route_table(table, origin, limits)


class StreamDelivery:
    """A Firehose-like delivery stream from one consumer into one loader, one step at a time.

    :meth:`step` polls every shard until caught up (or ``max_polls`` polls), hands the records to
    the loader (which buffers by size and time per partition and flushes what is due), and moves
    the consumer's checkpoints to just before the oldest record still buffered. A crash therefore
    re-reads at most what was not yet committed, and the loader's de-duplication keeps the lake
    exactly-once. With ``route``, payloads that are CloudTrail, CloudWatch Logs or Metric Streams
    data load into those tables (:func:`routed`); routed rows no longer carry their sequence
    numbers, so when any buffer is due every buffer is flushed and committed, and the checkpoint
    moves past all that was read (every ``buffer_seconds`` at the latest, under any load).
    :meth:`close` flushes every buffer and checkpoints all that was read.
    """

    def __init__(self, consumer: BaseConsumer, loader: Loader, *, route: bool = False, limit: int = 10_000):
        self.consumer, self.loader, self.route, self.limit = consumer, loader, route, limit

    @property
    def caught_up(self) -> bool:
        return bool(self.consumer.caught_up)

    def step(self, max_polls: int = 1) -> int:
        """Up to ``max_polls`` polls (fewer once caught up); returns the records read."""
        if self.route and self._due():
            # routed rows carry no sequence numbers: when a buffer is due, flush them all and wait,
            # so that everything read so far is committed and the checkpoint can move past it even
            # while records keep arriving (the buffers would otherwise never be empty at once)
            self.loader.flush()
            self.loader.sync()
            self.consumer.checkpoint([])
        n = 0
        for _ in range(max_polls):
            tables = self.consumer.poll(self.limit)
            for t in tables:
                n += t.num_rows
                origin = f"kinesis:{self.consumer.stream_name}/{t.column('shardId')[0].as_py()}"
                if self.route:
                    for b in routed(t, origin, self.loader.settings.limits()):
                        self.loader.add(b)
                else:
                    self.loader.add(Batch("records", t, origin, raw_bytes=t.column("data").nbytes))
            if self.consumer.caught_up:
                break
        if not self.route:
            self.loader.tick()
            self.consumer.checkpoint(self.loader.pending("records"))
        elif not self.loader.buffers and not self.loader.committer.inflight:
            self.consumer.checkpoint([])
        return n

    def _due(self) -> bool:
        limit, now = self.loader.settings.buffer_seconds, self.loader.clock()
        return any(now - b.since >= limit for b in self.loader.buffers.values())

    def close(self) -> LoadSummary:
        """Flush and commit every buffer, then checkpoint everything read."""
        try:
            return self.loader.close()
        finally:
            self.consumer.checkpoint([])

    def drain(self, polls_per_step: int = 100) -> LoadSummary:
        """Step until caught up, then :meth:`close`: all the stream holds now ends up committed.
        (Following a stream continuously is the caller's loop: :mod:`jobs.follow`.)"""
        try:
            while True:
                self.step(polls_per_step)
                if self.caught_up:
                    break
        finally:
            summary = self.close()
        return summary
