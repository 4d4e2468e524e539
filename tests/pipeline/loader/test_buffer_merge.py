"""Many tiny inputs into one partition: the buffer holds a few merged tables, not one per input
(100,000 one-event files used to cost gigabytes of per-table overhead under a 64 MiB buffer)."""

from __future__ import annotations

import duckdb

from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.loader.core import MERGE_FAN_IN, Loader
from tests.pipeline.loader.helpers import ct_batch, ct_rows


def test_tiny_batches_are_merged_and_all_rows_load_in_order(lake: Lake, settings: Settings) -> None:
    loader = Loader(lake, settings.loader)
    n = 1100
    most = 0
    for i in range(n):
        loader.add(ct_batch(ct_rows(1, start=i), origin=f"f{i}.json"))
        most = max(most, sum(len(b.tables) for b in loader.buffers.values()))
    (buf,) = loader.buffers.values()
    assert buf.rows == n and buf.origin_count == n
    assert most < 3 * MERGE_FAN_IN  # 1,100 > 32² parts: three levels, at most 31 tables each
    summary = loader.close()
    assert (summary.loaded, summary.files) == (n, 1)
    files = [lake.uri(f) for f in lake.table_files("cloudtrail")]
    ids = duckdb.connect().execute("SELECT eventID FROM read_parquet(?)", [files]).fetchall()
    assert [r[0] for r in ids] == [f"ev-{i:08d}" for i in range(n)]
