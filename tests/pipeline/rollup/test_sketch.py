"""The sketch against exact quantiles computed by numpy (method="lower", the documented
definition), and its merge algebra."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.rollup.sketch import ALPHA, GAMMA, OFFSET, Sketch, bin_of, bin_value, quantile

QS = [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0]
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def within(est: float, exact: float) -> bool:
    return abs(est - exact) <= ALPHA * abs(exact) * (1 + 1e-9) + 1e-300


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=300))
def test_quantiles_within_alpha_of_exact(values):
    s = Sketch.from_values(values)
    arr = np.array(values)
    for q in QS:
        assert within(s.quantile(q), float(np.quantile(arr, q, method="lower"))), q


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=1, max_size=100), st.lists(finite, min_size=1, max_size=100))
def test_merge_equals_sketch_of_union(a, b):
    merged = Sketch.from_values(a).merge(Sketch.from_values(b))
    whole = Sketch.from_values(a + b)
    assert merged.entries() == whole.entries()
    assert (merged.min, merged.max) == (min(a + b), max(a + b))


def test_bin_value_is_within_alpha_of_every_member():
    for v in [1e-9, 0.001, 0.5, 1.0, 1.0202, 3.14159, 99.99, 1e6, 2.0**300]:
        for sign in (1, -1):
            b = bin_of(sign * v)
            assert (b > 0) == (sign > 0)
            assert within(bin_value(b), sign * v)
    assert bin_of(0.0) == 0 and bin_value(0) == 0.0


def test_bins_by_hand_and_their_order_is_the_order_of_values():
    # γ = 1.0202…: 1.0 is the upper edge of key 0, γ of key 1, γ·1.001 already in key 2
    assert bin_of(1.0) == OFFSET and bin_of(-1.0) == -OFFSET
    assert bin_of(GAMMA * 1.001) == OFFSET + 2 and bin_of(1.0 / GAMMA ** 3 * 1.001) == OFFSET - 2
    values = [-1e300, -50.0, -5.0, -1e-300, 0.0, 5e-324, 1e-300, 0.5, 5.0, 50.0, 1.7e308]
    bins = [bin_of(v) for v in values]
    assert bins == sorted(bins) and len(set(bins)) == len(bins)
    assert all(abs(b) < (1 << 17) for b in bins)  # room for the merge's 18-bit field


def test_counts_weight_values():
    # values 1 (x1), 10 (x98), 100 (x1): the median and p90 are 10, p0 1, p100 100
    s = Sketch.from_values([1.0, 10.0, 100.0], [1.0, 98.0, 1.0])
    assert s.quantile(0.0) == 1.0 and s.quantile(1.0) == 100.0
    assert within(s.quantile(0.5), 10.0) and within(s.quantile(0.9), 10.0)


def test_mixed_signs_ordering():
    values = [-50.0, -5.0, 0.0, 0.0, 5.0, 50.0]
    s = Sketch.from_values(values)
    assert within(s.quantile(0.2), -5.0)  # rank floor(0.2*5)=1 → -5
    assert s.quantile(0.4) == 0.0          # rank 2 → 0
    assert within(s.quantile(0.8), 5.0)    # rank 4 → 5


def test_bad_quantile_and_empty():
    with pytest.raises(ValueError):
        quantile([(1, 1.0)], 1.5)
    with pytest.raises(ValueError):
        quantile([], 0.5)
    assert math.isfinite(Sketch.from_values([7.0]).quantile(0.5))
