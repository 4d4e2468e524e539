"""``watchlake load --from-stream``: drain a stream consumer into the loader.

The loop polls every shard, hands the records to the :class:`~pipeline.loader.Loader` (which
buffers by size and time per partition), and after each poll moves the consumer's checkpoints
to just before the oldest record still buffered. A crash therefore re-reads at most what was not
yet committed (at-least-once from the stream) and the loader's de-duplication by
``(streamName, shardId, sequenceNumber)`` keeps the lake exactly-once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.loader.core import Loader, LoadSummary
from pipeline.sources.base import Batch
from pipeline.stream.consumer import BaseConsumer


def load_from_stream(consumer: BaseConsumer, loader: Loader, *, once: bool = False,
                     poll_seconds: float = 1.0, limit: int = 10_000,
                     stop: Callable[[], bool] = lambda: False) -> LoadSummary:
    """Poll ``consumer`` into ``loader`` until caught up (``once``) or ``stop()`` is true."""
    try:
        while not stop():
            tables = consumer.poll(limit)
            for t in tables:
                shard = t.column("shardId")[0].as_py()
                loader.add(Batch("records", t, f"kinesis:{consumer.stream_name}/{shard}",
                                 raw_bytes=t.column("data").nbytes))
            loader.tick()
            consumer.checkpoint(loader.pending("records"))
            if consumer.caught_up:
                if once:
                    break
                time.sleep(poll_seconds)
    finally:
        summary = loader.close()
        consumer.checkpoint([])
    return summary
