"""Per-period quantile bins in numpy (pipeline.query.sketchq) against two independent answers:
bins worked out by hand, and the per-period SQL of pipeline.query.metrics (unnest, window, pick,
join — DuckDB computing the same definition its own way, the path a one-shot command takes) on
many random tier tables."""

from __future__ import annotations

import math
import random
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from pipeline.errors import InputError
from pipeline.query.metrics import _PERCENTILE
from pipeline.query.sketchq import NO_BIN, from_arrow, pick_bins
from pipeline.rollup.schema import SKETCH_BINS, SKETCH_COUNTS
from pipeline.rollup.sketch import OFFSET


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({
        "unit": pa.array([r["unit"] for r in rows], pa.string()),
        "qi": pa.array([r["qi"] for r in rows], pa.int64()),
        "sample_count": pa.array([r["n"] for r in rows], pa.float64()),
        "sketch_count": pa.array([r["skn"] for r in rows], pa.float64()),
        "min": pa.array([r["lo"] for r in rows], pa.float64()),
        "max": pa.array([r["hi"] for r in rows], pa.float64()),
        "sketch_bins": pa.array([r["bins"] for r in rows], SKETCH_BINS),
        "sketch_bin_counts": pa.array([r["counts"] for r in rows], SKETCH_COUNTS)})


_CON = duckdb.connect()


def _reference(table: pa.Table, q: float) -> list[tuple[Any, ...]]:
    _CON.register("t", table)
    rows = _CON.execute("WITH r AS (SELECT * FROM t)" + _PERCENTILE, {"q": q}).fetchall()
    return sorted(rows, key=lambda r: (r[0] is None, r[0] or "", r[1]))


def _ours(table: pa.Table, q: float) -> list[tuple[Any, ...]]:
    units, periods = from_arrow(table, q)
    rows = periods.rows(units)
    return sorted(rows, key=lambda r: (r[0] is None, r[0] or "", r[1]))


def _same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    def norm(v: Any) -> Any:
        return "NaN" if isinstance(v, float) and math.isnan(v) else v
    return [tuple(norm(v) for v in r) for r in a] == [tuple(norm(v) for v in r) for r in b]


def _random_rows(rnd: random.Random) -> list[dict[str, Any]]:
    """Random tier rows: 1–3 units (one may be null), periods with 0–4 rows, rows with no
    sketch, a single entry, bins repeated across rows, mixed signs and zero, counts that are
    integers or binary fractions, a sketch short of its samples, and now and then a null or NaN
    minimum / maximum."""
    units = rnd.sample(["Count", "Seconds", None], rnd.randint(1, 3))
    pool = [0] + [s * (OFFSET + k) for s in (1, -1) for k in rnd.sample(range(-300, 300), 6)]
    rows = []
    for unit in units:
        for qi in rnd.sample(range(40), rnd.randint(0, 12)):
            for _ in range(rnd.randint(1, 4)):
                kind = rnd.random()
                if kind < 0.15:
                    entries: dict[int, float] = {}
                elif kind < 0.3:
                    entries = {rnd.choice(pool): float(rnd.randint(1, 3))}
                else:
                    entries = {}
                    for b in rnd.sample(pool, rnd.randint(2, 8)):
                        entries[b] = rnd.choice([1.0, 2.0, 3.0, 0.5, 0.25, 7.0, 1e6])
                bins = sorted(entries)
                counts = [entries[b] for b in bins]
                skn = float(sum(counts))
                n = skn + (1.0 if rnd.random() < 0.1 else 0.0)
                lo, hi = (-5.0 + rnd.random(), 5.0 + rnd.random()) if bins else (1.0, 2.0)
                odd = rnd.random()
                if odd < 0.03:
                    lo = None
                elif odd < 0.06:
                    hi = None
                elif odd < 0.08:
                    lo = math.nan
                elif odd < 0.1:
                    hi = math.nan
                rows.append({"unit": unit, "qi": qi, "n": n, "skn": skn, "lo": lo, "hi": hi,
                             "bins": bins, "counts": counts})
    rnd.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", [*range(10), *(pytest.param(s, marks=pytest.mark.slow) for s in range(10, 60))])
def test_equal_to_the_sql_on_random_tier_rows(seed):
    rnd = random.Random(seed)
    table = _table(_random_rows(rnd))
    for q in (0.0, 1.0, 0.5, 0.99, 0.999, 0.01, rnd.random(), rnd.random()):
        ref = _reference(table, q)
        assert _same(_ours(table, q), ref), (seed, q)


def test_equal_to_the_sql_with_ties_at_the_rank_boundary():
    """Cumulative counts landing exactly on the rank: the pick is the next bin (strictly past),
    for every q whose rank is an integer boundary; and across rows holding the same bin."""
    b = [OFFSET + 10, OFFSET + 20, OFFSET + 30, OFFSET + 40]
    row = {"unit": "Count", "n": 8.0, "skn": 8.0, "lo": 1.0, "hi": 9.0}
    rows = [{**row, "qi": 0, "bins": b, "counts": [2.0] * 4},
            {**row, "qi": 1, "bins": b[:2], "counts": [1.0, 1.0]},
            {**row, "qi": 1, "bins": b[1:3], "counts": [1.0, 1.0]}]
    table = _table(rows)
    for k in range(8):
        q = k / 7  # rank = k exactly (total 8)
        assert _same(_ours(table, q), _reference(table, q)), q


def test_hand_worked_bins():
    """Bins 10, 20, 30 (offset) with counts 3, 5, 2 (n = 10): rank floor(q · 9) → cumulative
    3, 8, 10 → p0 rank 0 → bin 10; p30 rank 2 → bin 10; p34 rank 3 → bin 20 (3 is not > 3);
    p50 rank 4 → bin 20; p80 rank 7 → bin 20; p89 rank 8 → bin 30 (8 is not > 8); p99 rank 8 →
    bin 30; p100 rank 9 → bin 30. A second group from two rows (bin 20 ×1, then bins 10 ×1 and
    20 ×2): merged 10 ×1, 20 ×3 → p25 rank 0 → 10, p50 rank 1 → 20. A third group with no
    entries has no bin."""
    group = np.array([0, 0, 0, 1, 1, 1], np.int64)
    bins = np.array([10, 20, 30, 20, 10, 20]) + OFFSET
    counts = np.array([3.0, 5.0, 2.0, 1.0, 1.0, 2.0])
    expect = {0.0: 10, 0.30: 10, 0.34: 20, 0.5: 20, 0.8: 20, 0.89: 30, 0.99: 30, 1.0: 30}
    for q, want in expect.items():
        got = pick_bins(group, bins, counts, q, 3)
        assert got[0] == OFFSET + want, q
        assert got[2] == NO_BIN
    assert pick_bins(group, bins, counts, 0.25, 3)[1] == OFFSET + 10
    assert pick_bins(group, bins, counts, 0.5, 3)[1] == OFFSET + 20


def test_negative_bins_and_zero_order_by_value():
    """Negative bins sort below zero below positive ones: values −3 ×1, 0 ×1, +2 ×1 → p50 is 0's bin."""
    group = np.zeros(3, np.int64)
    bins = np.array([OFFSET + 50, -(OFFSET + 70), 0])
    assert pick_bins(group, bins, np.ones(3), 0.5, 1)[0] == 0
    assert pick_bins(group, bins, np.ones(3), 0.0, 1)[0] == -(OFFSET + 70)


def test_no_rows_and_rows_without_sketches():
    empty = _table([])
    units, periods = from_arrow(empty, 0.5)
    assert periods.rows(units) == []
    rows = [{"unit": "Count", "qi": 3, "n": 2.0, "skn": 0.0, "lo": 1.0, "hi": 2.0, "bins": [], "counts": []}]
    units, periods = from_arrow(_table(rows), 0.5)
    assert periods.rows(units) == [("Count", 3, 2.0, 0.0, 1.0, 2.0, None)]


def test_lists_of_different_lengths_are_an_input_error():
    rows = [{"unit": "Count", "qi": 0, "n": 2.0, "skn": 2.0, "lo": 1.0, "hi": 2.0, "bins": [OFFSET, OFFSET + 1],
             "counts": [2.0]}]
    with pytest.raises(InputError, match="sketch_bin_counts.*differ in length"):
        from_arrow(_table(rows), 0.5)
