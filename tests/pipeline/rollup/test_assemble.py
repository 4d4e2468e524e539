"""pipeline.rollup.assemble.sort_series: the same table as pyarrow's stable sort by the tier
sort keys, on runs of series (merged chunks), on shuffled rows, with ties and with nulls."""

from __future__ import annotations

import random
from datetime import timedelta

import pyarrow as pa
import pytest

from pipeline.rollup.assemble import sort_series
from pipeline.rollup.schema import ROLLUP, SORT_KEYS
from tests.pipeline.rollup.gen import T0


def _rows(rng: random.Random, series: int, buckets: int, start: int = 0) -> list[dict]:
    out = []
    for s in range(series):
        for b in range(buckets):
            out.append({"_wl_series_id": f"{s:016x}", "namespace": rng.choice(["A", "B", "AB"]),
                        "metric_name": f"m{s % 4}", "dimensions": f'{{"H":"{s}"}}',
                        "unit": rng.choice(["Count", "None"]),
                        "timestamp": T0 + timedelta(minutes=start + b), "period": 60, "sample_count": 1.0,
                        "sum": rng.random(), "min": 0.0, "max": 1.0, "sketch_bins": [65536 + b],
                        "sketch_bin_counts": [1.0], "sketch_count": 1.0})
    return out


def _want(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in SORT_KEYS])


@pytest.mark.parametrize("seed", range(6))
def test_sorted_as_pyarrow_sorts(seed):
    rng = random.Random(seed)
    # chunks of one series-sorted run each (a block of chunk files), identities repeating across
    # series (equal identity, different rows: their order must stay as given), and ties on time
    chunks = []
    for c in range(rng.randrange(1, 5)):
        rows = _rows(rng, rng.randrange(1, 30), rng.randrange(1, 6), start=10 * c)
        if rng.random() < 0.5:
            rows.sort(key=lambda r: tuple(r[k] for k in SORT_KEYS))
        else:
            rng.shuffle(rows)
        if rng.random() < 0.3 and rows:
            rows.append(dict(rows[0], sum=-1.0))  # an exact duplicate key: a tie kept in order
        chunks.append(pa.Table.from_pylist(rows, schema=ROLLUP))
    t = pa.concat_tables(chunks)
    assert sort_series(t).equals(_want(t))
    assert sort_series(t).column("sum").to_pylist() == _want(t).column("sum").to_pylist()


def test_nulls_and_tiny_tables():
    rng = random.Random(1)
    rows = _rows(rng, 3, 2)
    rows[2]["unit"] = None
    t = pa.Table.from_pylist(rows[::-1], schema=ROLLUP)
    assert sort_series(t).equals(_want(t))
    one = pa.Table.from_pylist(rows[:1], schema=ROLLUP)
    assert sort_series(one).equals(one) and sort_series(ROLLUP.empty_table()).num_rows == 0
