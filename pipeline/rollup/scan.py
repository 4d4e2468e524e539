"""What new source files hold, read cheaply: rows per bucket from one grouped scan of their time
(and series id) columns, and row counts from Parquet footers — never the files' other columns."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from pipeline.rollup.narrow import FEW_ROWS, Series
from pipeline.rollup.schema import SERIES_ID
from pipeline.rollup.state import SourceFile
from pipeline.schemas import EVENT_TIME

if TYPE_CHECKING:
    from pipeline.lake import Lake

Counts = dict[int, int]
"""Rows per bucket index (epoch ms // period ms)."""


def scan(lake: Lake, table: str, rels: list[str], period: int, *, series: bool = False
          ) -> dict[str, tuple[int, Counts, dict[int, Series]]]:
    """Per file: the newest event time (epoch ms), its rows per bucket and, with ``series``, the
    series of the buckets where it has at most :data:`~pipeline.rollup.narrow.FEW_ROWS` rows —
    one grouped read of the time (and series id) columns of ``rels`` only."""
    import duckdb

    if not rels:
        return {}
    col = EVENT_TIME.get(table, "timestamp")
    uris = [lake.uri(r) for r in rels]
    by_uri = dict(zip(uris, rels, strict=True))
    sid = f", {SERIES_ID}" if series else ""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            f'SELECT filename, epoch_ms("{col}") // {period * 1000} AS b, count(*), max(epoch_ms("{col}")){sid} '
            f'FROM read_parquet(?, filename = true, union_by_name = true) WHERE "{col}" IS NOT NULL '
            "GROUP BY ALL", [uris]).fetchall()
    finally:
        con.close()
    newest: dict[str, int] = {r: 0 for r in rels}
    counts: dict[str, Counts] = {r: {} for r in rels}
    ids: dict[tuple[str, int], list[str]] = defaultdict(list)
    for row in rows:
        fname, b, n, mx = row[:4]
        rel = by_uri.get(fname) or next(r for u, r in by_uri.items() if fname.endswith(r))
        counts[rel][int(b)] = counts[rel].get(int(b), 0) + int(n)
        newest[rel] = max(newest[rel], int(mx))
        if series:
            ids[rel, int(b)].append(str(row[4]))
    return {r: (newest[r], counts[r],
                {b: tuple(sorted(ids[r, b])) for b, n in counts[r].items() if series and n <= FEW_ROWS})
            for r in rels}


def rows_in(lake: Lake, files: list[SourceFile]) -> int:
    """Rows of Parquet files, from their footers."""
    total = 0
    for f in files:
        with lake.fs.open_input_file(lake.path(f.rel)) as fh:
            total += pq.read_metadata(fh).num_rows
    return total
