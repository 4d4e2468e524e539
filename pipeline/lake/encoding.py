"""Which Parquet columns get dictionary encoding, decided from the data being written.

Dictionary encoding pays for columns whose values repeat (``eventSource``, ``awsRegion``,
``userIdentity.type``, metric names, dimensions): smaller files, and no slower to query. For
columns of nearly unique values (``eventID``, ``requestID``, request payloads) the writer builds
a hash dictionary per column chunk only to give it up when the dictionary page overflows, which
cost ~20 % of the write time of a CloudTrail partition and made files larger.

:func:`dictionary_columns` samples each leaf column (nested struct fields and list elements
included) and picks the ones whose values repeat enough; the answer depends only on the
values, never on column names, so it carries over to any table and any source. The sample is
spread over the table and the number of distinct values in the whole table is estimated from it
(:func:`estimated_distinct`): raw metrics arrive in time order, 10,000 series taking turns, so
the first thousand rows hold a thousand different series ids although the file holds each
one hundreds of times — judged on those rows alone the ids and dimensions were written plain,
4.5x larger, and DuckDB grouped them 5x slower.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pyarrow as pa

SAMPLE_ROWS = 1024
"""Rows sampled per column: all of a table this small, else this many spread evenly over it."""
MAX_DISTINCT_RATIO = 0.5
"""A leaf is dictionary-encoded when its distinct values are estimated at most this share of its
values in the table."""
REDECIDE_ROWS = 8
""":func:`dictionary_columns_cached` decides again for a table this many times larger than the one
it decided on (small live batches say little about the repeats a large file holds)."""


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


_DECIDED: dict[tuple[pa.Schema, int | None], tuple[int, list[str]]] = {}


def dictionary_columns_cached(table: pa.Table, group_rows: int | None = None) -> list[str]:
    """:func:`dictionary_columns`, decided once per schema and row group size in this process from
    the first table with at least :data:`SAMPLE_ROWS` rows (smaller tables decide for
    themselves), and again for a table :data:`REDECIDE_ROWS` times larger than the one that
    decided: sampling every small partition file cost more than the encoding saved, and which
    columns repeat is a property of the columns, not of one partition."""
    hit = _DECIDED.get((table.schema, group_rows))
    if hit is not None and table.num_rows <= REDECIDE_ROWS * hit[0]:
        return hit[1]
    cols = dictionary_columns(table, group_rows=group_rows)
    if table.num_rows >= SAMPLE_ROWS:
        _DECIDED[table.schema, group_rows] = (table.num_rows, cols)
    return cols


def estimated_distinct(distinct: int, sampled: int, total: int) -> float:
    """The number of distinct values among ``total`` values of which ``sampled``, drawn evenly,
    held ``distinct``: the ``N`` with ``N · (1 − e^(−sampled/N)) = distinct`` (the expected
    distinct count of ``sampled`` draws from ``N`` equally common values), at most ``total``;
    ``distinct`` itself when the sample is everything, ``total`` when no value repeated."""
    if sampled >= total or distinct <= 0:
        return float(distinct)
    if distinct >= sampled:
        return float(total)
    lo, hi = math.log(distinct), math.log(total) + 1.0  # bisection on log N: f grows with N
    for _ in range(60):
        mid = (lo + hi) / 2
        n = math.exp(mid)
        if n * -math.expm1(-sampled / n) < distinct:
            lo = mid
        else:
            hi = mid
    return min(math.exp(hi), float(total))


def dictionary_columns(table: pa.Table, *, sample_rows: int = SAMPLE_ROWS,
                       max_ratio: float = MAX_DISTINCT_RATIO, group_rows: int | None = None) -> list[str]:
    """Parquet column paths (``a.b`` for struct fields, ``a.list.element`` for list items) whose
    values repeat: at most ``max_ratio`` distinct among the non-null values, the distinct count
    of a large table estimated from ``sample_rows`` rows spread evenly over it
    (:func:`estimated_distinct`; an all-null sample gets plain encoding, which is cheaper to write
    and as small).

    ``group_rows``: the table is written in row groups of (at most) that many rows, and Parquet
    keeps a dictionary per row group, so the repeats that count are those inside one. A leaf
    repeats inside a group when either its values, taken as drawn from the table's estimated
    ``N`` distinct ones, give at most ``max_ratio`` distinct among a group's ``G``
    (``N · (1 − e^(−G/N))``: ids that take turns), or ``sample_rows`` consecutive rows from the
    middle of the table hold at most ``max_ratio`` distinct (sorted or clustered values: times,
    series of a sorted tier, whose spread sample looks unique). Without ``group_rows`` the table
    counts as one group. (Sums of a 1-minute tier repeat across 1.7 M rows but hardly inside
    8,192: written with a dictionary they took twice the time of plain values and came out larger.)

    Booleans are left out (Parquet encodes them as bits already). Deterministic for a given table.
    """
    rows = table.num_rows
    if rows == 0:
        return []
    spread = table
    if rows > sample_rows:
        step = rows / sample_rows
        spread = table.take(pa.array([int(i * step) for i in range(sample_rows)], pa.int64()))
    by_group = group_rows is not None and group_rows < rows
    window = dict(_distinct(table.slice((rows - sample_rows) // 2, sample_rows))) if by_group else {}
    out: list[str] = []
    for path, (present, distinct) in _distinct(spread):
        total = round(present * rows / spread.num_rows)  # values in the table
        n = estimated_distinct(distinct, present, total)
        if not by_group:
            repeats = n <= max_ratio * total
        else:
            group = total * group_rows / rows  # values in one row group
            w_present, w_distinct = window.get(path, (0, 0))
            repeats = n * -math.expm1(-group / n) <= max_ratio * group or 0 < w_distinct <= max_ratio * w_present
        if repeats:
            out.append(path)
    return out


def _distinct(table: pa.Table) -> Iterator[tuple[str, tuple[int, int]]]:
    """Per leaf with values (booleans left out: Parquet encodes them as bits already), its path
    and ``(values present, distinct values)``."""
    import pyarrow.compute as pc  # here, not at import: it costs every short command 0.05–0.1 s

    for name in table.column_names:
        for path, values in _leaves(name, table.column(name).combine_chunks()):
            present = len(values) - values.null_count
            if present and not pa.types.is_boolean(values.type):
                yield path, (present, pc.count_distinct(values).as_py())
