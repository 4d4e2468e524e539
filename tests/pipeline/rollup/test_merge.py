"""Sketch merging in numpy (pipeline.rollup.merge): hand-worked cases, edge cases, and agreement
with the reference Sketch on random sketches."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from pipeline.rollup.merge import build_sketches, merge_sketches
from pipeline.rollup.schema import SKETCH
from pipeline.rollup.sketch import Sketch


def _e(sign: int, key: int, count: float) -> dict:
    return {"sign": sign, "key": key, "count": count}


@pytest.mark.parametrize("dense_limit", [0, 1 << 24])  # sorting, dense table
def test_counts_of_equal_buckets_add_and_entries_sort_by_sign_then_key(dense_limit):
    rows = pa.array([[_e(-1, 3, 1.0), _e(0, 0, 2.0)], None,
                     [_e(-1, 3, 0.5), _e(-1, -4, 1.0), _e(1, -37000, 1.0)], []], SKETCH)
    out = merge_sketches(pa.array([7, 9, 11], pa.int64()), pa.array([9, 7, 9, 11], pa.int64()), rows,
                         dense_limit=dense_limit)
    assert out.type == SKETCH
    # bucket 7 only has the null sketch, 11 only an empty one; 9 gets rows 0 and 2
    assert out.to_pylist() == [
        [],
        [_e(-1, -4, 1.0), _e(-1, 3, 1.5), _e(0, 0, 2.0), _e(1, -37000, 1.0)],
        [],
    ]


def test_no_entries_at_all_gives_empty_double_counts():
    out = build_sketches(pa.array([1, 5], pa.int64()), np.array([], np.int64), pa.array([], pa.int8()),
                         pa.array([], pa.int32()), pa.array([], pa.float64()))
    assert out.type == SKETCH and out.to_pylist() == [[], []]
    assert merge_sketches(pa.array([], pa.int64()), pa.array([], pa.int64()),
                          pa.array([], SKETCH)).to_pylist() == []


@pytest.mark.parametrize("dense_limit", [0, 1 << 24])
def test_agrees_with_the_reference_sketch_merge(dense_limit):
    rnd = random.Random(7)
    buckets = [3, 10, 2**40 + 1]
    expected = {b: Sketch() for b in buckets}
    keys, sketches = [], []
    for _ in range(200):
        b = rnd.choice(buckets)
        s = Sketch.from_values([rnd.choice([-1, 1, 0]) * rnd.lognormvariate(0, 3) for _ in range(rnd.randint(0, 6))])
        expected[b] = expected[b].merge(s)
        keys.append(b)
        sketches.append([_e(*e) for e in s.entries()])
    out = merge_sketches(pa.array(buckets, pa.int64()), pa.array(keys, pa.int64()), pa.array(sketches, SKETCH),
                         dense_limit=dense_limit)
    for b, got in zip(buckets, out.to_pylist(), strict=True):
        assert [(e["sign"], e["key"], e["count"]) for e in got] == expected[b].entries()
