"""pipeline.rollup.chunks: which file each bucket of a tier partition goes to (chunk, bucket,
block or partition file), and rows laid out in that order are cut into files without copying."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pyarrow as pa

from pipeline.rollup.assemble import chunk_major, keys, sort_series
from pipeline.rollup.chunks import file_starts, layout, partition_ms, split
from pipeline.rollup.schema import ROLLUP
from pipeline.timeutil import epoch_ms
from tests.pipeline.rollup.gen import T0

DAY = {"dt": T0.strftime("%Y-%m-%d")}
P_LO, P_HI = partition_ms(DAY)
MIN = 60_000
CLOCK = P_LO + (3 * 60 + 20) * MIN  # 03:20 of the day
# 5m tier, hourly chunks: [0h, 1h) and [1h, 2h) have settled (their end plus 5 minutes is before
# the clock) and form a block of two; [2h, 3h) has settled alone (its block [2h, 4h) has not);
# the buckets of [3h, 4h) have not: one file each
WANT = {P_LO: 120 * MIN, P_LO + 120 * MIN: 60 * MIN,
        **{P_LO + (180 + m) * MIN: 5 * MIN for m in (0, 5, 10, 15)}}


def test_files_of_an_open_day_worked_by_hand():
    buckets = P_LO + np.arange(0, 200, 5, dtype=np.int64) * MIN  # 00:00 … 03:15
    at, widths, blocks = file_starts(buckets[::-1], 300, CLOCK, P_LO, P_HI)
    assert widths == WANT and blocks == [(P_LO, P_LO + 120 * MIN)]
    start = {int(b): int(a) for b, a in zip(buckets[::-1], at, strict=True)}
    assert start[P_LO + 115 * MIN] == P_LO and start[P_LO + 125 * MIN] == P_LO + 120 * MIN
    assert start[P_LO + 190 * MIN] == P_LO + 190 * MIN
    # a kept file of [2h, 3h) beside new rows of [3h, 4h) only: no block is due yet
    assert file_starts(buckets[36:], 300, CLOCK, P_LO, P_HI, kept=[(P_LO + 120 * MIN, P_LO + 180 * MIN)])[2] == []
    # closed: one partition file
    assert file_starts(buckets, 300, CLOCK, P_LO, P_HI, closed=True)[1] == {P_LO: P_HI - P_LO}


def _rows(series: int) -> pa.Table:
    """5m rows of ``series`` series from 00:00 to 03:15, sorted by series and time."""
    rng = random.Random(3)
    rows = [{"_wl_series_id": f"{s:016x}", "namespace": "A", "metric_name": "m", "dimensions": f'{{"H":"{s:03d}"}}',
             "unit": "None", "timestamp": T0 + timedelta(minutes=m), "period": 300, "sample_count": 1.0,
             "sum": rng.random(), "min": 0.0, "max": 1.0, "sketch_bins": [65536 + m], "sketch_bin_counts": [1.0],
             "sketch_count": 1.0}
            for s in range(series) for m in range(0, 200, 5)]
    return pa.Table.from_pylist(rows, schema=ROLLUP)


def _is_slice(part: pa.Table, of: pa.Table) -> bool:
    """Whether ``part`` shares ``of``'s buffers (a zero-copy slice), checked on its sketch lists."""
    def base(t: pa.Table) -> int:
        return t["sketch_bins"].chunks[0].buffers()[3].address

    return part.num_rows == 0 or base(part) == base(of)


def test_rows_in_layout_order_are_cut_into_sorted_slices():
    rows = _rows(7)
    ms = epoch_ms(T0)  # the row keys of the engines: series rank, 5-minute bucket index
    rank = np.repeat(np.arange(7), 40)
    bucket = (np.tile(np.arange(0, 200, 5), 7) * MIN + ms) // (300 * 1000)
    key = keys(rank, pa.array(bucket))
    ordered = rows.take(pa.array(chunk_major(key, 300, layout(300, CLOCK, DAY, closed=False))))
    pieces, blocks = split(ordered, 300, CLOCK, P_LO, P_HI)
    assert {a: w for a, w, _ in pieces} == WANT and blocks == [(P_LO, P_LO + 120 * MIN)]
    for _, _, part in pieces:
        assert _is_slice(part, ordered)
        assert sort_series(part) is part  # already sorted: written as it is
    assert sum(p.num_rows for _, _, p in pieces) == rows.num_rows
    # by chunk only (no layout), the block's rows are two runs of series: sorted again
    by_chunk = rows.take(pa.array(chunk_major(key, 300)))
    block = next(p for a, w, p in split(by_chunk, 300, CLOCK, P_LO, P_HI)[0] if w == 120 * MIN)
    assert sort_series(block) is not block
    assert sort_series(block).equals(next(p for a, w, p in pieces if w == 120 * MIN))
