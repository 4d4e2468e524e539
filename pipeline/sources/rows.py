"""Row buffers shared by the metrics, logs and Kinesis readers.

Those readers parse each record into a small dict already shaped like its table's row; a
:class:`RowBuffer` collects rows, rejections and skip counts for one input unit and turns them
into a :class:`~pipeline.sources.base.Batch`. Converting a buffer never raises: a row Arrow still
refuses becomes a rejection.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from pipeline.schemas import PREFIX, RAW_SCHEMAS
from pipeline.sources.base import Batch, Rejection
from pipeline.sources.conform import raw_bytes

BATCH_ROWS = 100_000


class RowBuffer:
    """Rows of one table from one origin (a file, object or payload)."""

    def __init__(self, source: str, origin: str, raw_bytes: int = 0):
        self.source, self.origin, self.raw_bytes = source, origin, raw_bytes
        self.schema = RAW_SCHEMAS[source]
        self.rows: list[dict[str, Any]] = []
        self.raws: list[Any] = []
        self.positions: list[int | None] = []
        self.rejections: list[Rejection] = []
        self.skipped: dict[str, int] = {}
        self.seen = 0

    def next_index(self) -> int:
        """0-based running index of records in this unit (for formats without a natural one)."""
        self.seen += 1
        return self.seen - 1

    def add(self, row: dict[str, Any], pos: int | None, raw: Any = None, repeat: int = 0) -> None:
        """Add one row named ``<origin>:<pos>`` in ``_wl_origin``, with ``#<repeat>`` appended for
        the n-th repeat of an identical sample (metrics: part of the record key)."""
        where = self.origin if pos is None else f"{self.origin}:{pos}"
        row[f"{PREFIX}origin"] = f"{where}#{repeat}" if repeat else where
        self.rows.append(row)
        self.raws.append(raw)
        self.positions.append(pos)

    def reject(self, pos: int | None, reason: str, raw: Any = b"", field: str | None = None) -> None:
        data = raw_bytes(raw)
        self.rejections.append(Rejection(self.source, self.origin, pos, field, reason, data))

    def skip(self, key: str, n: int = 1) -> None:
        self.skipped[key] = self.skipped.get(key, 0) + n

    def __len__(self) -> int:
        return len(self.rows)

    def empty(self) -> bool:
        return not (self.rows or self.rejections or self.skipped)

    def flush(self) -> Batch:
        """The batch of everything collected so far; the buffer starts over."""
        try:
            table = pa.Table.from_pylist(self.rows, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            table = self._one_by_one()
        batch = Batch(self.source, table, self.origin, self.rejections, self.skipped, self.raw_bytes)
        self.rows, self.raws, self.positions, self.rejections, self.skipped = [], [], [], [], {}
        self.raw_bytes = 0
        return batch

    def _one_by_one(self) -> pa.Table:
        parts = []
        for row, raw, pos in zip(self.rows, self.raws, self.positions):
            try:
                parts.append(pa.Table.from_pylist([row], schema=self.schema))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
                self.reject(pos, f"cannot convert: {exc}", raw if raw is not None else row)
        return pa.concat_tables(parts) if parts else self.schema.empty_table()

    def batches(self, final: bool = False) -> Iterator[Batch]:
        """Flush when full (or, with ``final``, whatever is left)."""
        if len(self.rows) >= BATCH_ROWS or (final and not self.empty()):
            yield self.flush()
