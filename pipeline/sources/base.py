"""The contract between readers and the loader.

A reader turns input locations into :class:`Batch` es: an Arrow table in the raw table's exact
schema (:data:`pipeline.schemas.RAW_SCHEMAS`) plus the :class:`Rejection` s of records that could
not be read. Readers never write files. For every batch,
``records_in == table.num_rows + len(rejections)``; input that is skipped on purpose (digest
files, CONTROL_MESSAGE payloads) is counted in ``skipped`` and is not a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

MAX_RAW_BYTES = 1 << 20
"""Rejected raw bytes are kept up to this size (1 MiB); longer input is truncated."""


@dataclass
class Rejection:
    """One record that could not be read, with where it came from and why.

    Attributes:
        source: ``cloudtrail`` | ``metrics`` | ``logs`` | ``records``.
        origin: file or object URL (plus ``#index`` for an array element where useful).
        line: 1-based line number (NDJSON, CSV) or 0-based array index; None if unknown.
        field: the offending field, when one is to blame.
        reason: one line, human readable.
        raw: the record's bytes as received (truncated to :data:`MAX_RAW_BYTES`).
    """

    source: str
    origin: str
    line: int | None
    field: str | None
    reason: str
    raw: bytes = b""

    def __post_init__(self) -> None:
        if len(self.raw) > MAX_RAW_BYTES:
            self.raw = self.raw[:MAX_RAW_BYTES]

    def message(self) -> str:
        """``file:line: field `x`: reason`` — the one-line error users see."""
        where = self.origin + (f":{self.line}" if self.line is not None else "")
        fld = f" field `{self.field}`:" if self.field else ""
        return f"{where}:{fld} {self.reason}"


@dataclass
class Batch:
    """Records read from one input unit (a file, object, payload or page of records)."""

    table_name: str
    table: pa.Table
    origin: str
    rejections: list[Rejection] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    raw_bytes: int = 0

    @property
    def records_in(self) -> int:
        return self.table.num_rows + len(self.rejections)
