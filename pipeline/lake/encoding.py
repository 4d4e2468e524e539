"""Which Parquet columns get dictionary encoding, decided from the data being written.

Dictionary encoding pays for columns whose values repeat (``eventSource``, ``awsRegion``,
``userIdentity.type``, metric names, dimensions): smaller files, and no slower to query. For
columns of nearly unique values (``eventID``, ``requestID``, request payloads) the writer builds
a hash dictionary per column chunk only to give it up when the dictionary page overflows, which
cost ~20 % of the write time of a CloudTrail partition and made files larger.

:func:`dictionary_columns` samples each leaf column (nested struct fields and list elements
included) and picks the ones whose sample repeats enough; the answer depends only on the
values, never on column names, so it carries over to any table and any source.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

SAMPLE_ROWS = 1024
"""Rows sampled per column: the first ``SAMPLE_ROWS`` (a zero-copy slice; a sample spread over
the table cost more than the encoding it saved on partitions of a few thousand rows)."""
MAX_DISTINCT_RATIO = 0.5
"""A leaf is dictionary-encoded when its sample has at most this share of distinct values."""


def _leaves(path: str, arr: pa.Array) -> Iterator[tuple[str, pa.Array]]:
    """``(Parquet column path, flattened values)`` of every leaf under ``arr``."""
    t = arr.type
    if pa.types.is_struct(t):
        for i in range(t.num_fields):
            yield from _leaves(f"{path}.{t.field(i).name}", arr.field(i))
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        yield from _leaves(f"{path}.list.element", arr.flatten())
    else:
        yield path, arr


_DECIDED: dict[pa.Schema, list[str]] = {}


def dictionary_columns_cached(table: pa.Table) -> list[str]:
    """:func:`dictionary_columns`, decided once per schema in this process from the first table
    with at least :data:`SAMPLE_ROWS` rows (smaller tables decide for themselves): sampling every
    small partition file cost more than the encoding saved, and which columns repeat is a
    property of the columns, not of one partition."""
    hit = _DECIDED.get(table.schema)
    if hit is not None:
        return hit
    cols = dictionary_columns(table)
    if table.num_rows >= SAMPLE_ROWS:
        _DECIDED[table.schema] = cols
    return cols


def dictionary_columns(table: pa.Table, *, sample_rows: int = SAMPLE_ROWS,
                       max_ratio: float = MAX_DISTINCT_RATIO) -> list[str]:
    """Parquet column paths (``a.b`` for struct fields, ``a.list.element`` for list items) whose
    sampled values repeat: at most ``max_ratio`` distinct among the non-null sample (an all-null
    sample gets plain encoding, which is cheaper to write and as small).

    Booleans are left out (Parquet encodes them as bits already). Deterministic for a given table.
    """
    import pyarrow.compute as pc  # here, not at import: it costs every short command 0.05–0.1 s

    if table.num_rows == 0:
        return []
    table = table.slice(0, sample_rows)
    out: list[str] = []
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        for path, values in _leaves(name, col):
            if pa.types.is_boolean(values.type):
                continue
            present = len(values) - values.null_count
            if present and pc.count_distinct(values).as_py() <= max_ratio * present:
                out.append(path)
    return out
