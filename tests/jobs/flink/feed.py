"""Feeding raw metrics through the loader's real commit path (de-duplication, ledger, segment), and
waiting for what a Flink job does."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from pipeline.lake import layout, ledger
from pipeline.loader.commit import Work, commit
from pipeline.loader.index import KeyIndex
from pipeline.schemas import METRICS


class Feeder:
    """Commits batches of raw metric rows as the loader does (one commit per hour partition)."""

    def __init__(self, lake: Any):
        self.lake = lake
        self.index = KeyIndex(lake, "metrics")
        self.ids = ledger.CommitIds(ledger.new_run_id())

    def commit(self, rows: list[dict[str, Any]]) -> int:
        """Commit ``rows``; returns the rows loaded (duplicates of committed rows are dropped)."""
        by_part: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_part[layout.partition_path("metrics", layout.time_partitions("metrics", r["timestamp"]))].append(r)
        loaded = 0
        for folder, rs in sorted(by_part.items()):
            t = pa.Table.from_pylist(rs, schema=METRICS)
            out = commit(self.lake, self.index, Work("metrics", folder, [t], t.num_rows, t.nbytes), self.ids.next())
            loaded += out.rows
        return loaded


def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Return once ``cond()`` holds (polled every 0.5 s); raise ``TimeoutError(what)`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)
