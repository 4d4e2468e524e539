"""``watchlake load --from-stream``: drain a stream consumer into the loader.

The loop polls every shard, hands the records to the :class:`~pipeline.loader.Loader` (which
buffers by size and time per partition), and after each poll moves the consumer's checkpoints
to just before the oldest record still buffered. A crash therefore re-reads at most what was not
yet committed (at-least-once from the stream) and the loader's de-duplication by
``(streamName, shardId, sequenceNumber)`` keeps the lake exactly-once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

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


def load_from_stream(consumer: BaseConsumer, loader: Loader, *, once: bool = False,
                     poll_seconds: float = 1.0, limit: int = 10_000, route: bool = False,
                     stop: Callable[[], bool] = lambda: False) -> LoadSummary:
    """Poll ``consumer`` into ``loader`` until caught up (``once``) or ``stop()`` is true.

    With ``route``, payloads that are CloudTrail, CloudWatch Logs or Metric Streams data load
    into those tables (:func:`routed`); checkpoints then move only when nothing is buffered, since
    routed rows no longer carry their sequence numbers.
    """
    try:
        while not stop():
            tables = consumer.poll(limit)
            for t in tables:
                origin = f"kinesis:{consumer.stream_name}/{t.column('shardId')[0].as_py()}"
                if route:
                    for b in routed(t, origin, loader.settings.limits()):
                        loader.add(b)
                else:
                    loader.add(Batch("records", t, origin, raw_bytes=t.column("data").nbytes))
            loader.tick()
            if not route:
                consumer.checkpoint(loader.pending("records"))
            elif not loader.buffers and not loader.committer.inflight:
                consumer.checkpoint([])
            if consumer.caught_up:
                if once:
                    break
                time.sleep(poll_seconds)
    finally:
        summary = loader.close()
        consumer.checkpoint([])
    return summary
