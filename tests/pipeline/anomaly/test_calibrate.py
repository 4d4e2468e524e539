"""TailCalibrator: the tail share of a value and its reading past the largest value seen."""

from __future__ import annotations

import math

from pipeline.anomaly.calibrate import TailCalibrator


def _flat(bin0: bool) -> TailCalibrator:
    """A calibrator whose view 0 has only ever seen 0 (200 values: past the 100 that allow
    extrapolating), view 1 values of 1."""
    c = TailCalibrator(2, 1000.0, bin0=bin0)
    for _ in range(200):
        bins: list[int] = []
        c.surprise([0, 1], [0.0, 1.0], bins)
        c.learn([0, 1], [0.0, 1.0], bins)
    return c


def test_past_a_largest_value_of_0_bin_0_is_extrapolated_only_without_bin0() -> None:
    plain, fixed = _flat(False), _flat(True)
    assert plain.vmax[0] == fixed.vmax[0] == 0.0
    # 0.1 lies in bin 0 (⌊4·log2 1.1⌋ = 0), with all 200 zeros: the share is (total + w/2) / (total + w)
    share = (plain.total + 0.5 * plain.w) / (plain.total + plain.w)
    assert math.isclose(plain.surprise([0], [0.1], []), -math.log10(share * 1e-6))  # "one in a million"
    assert math.isclose(fixed.surprise([0], [0.1], []), -math.log10(share))  # as common as every 0
    assert fixed.surprise([0], [0.1], []) < 0.01
    # from bin 1 up (0.5: bin 2) both read it as unprecedented: only the prior's half point is above it
    tail = 0.5 * plain.w / (plain.total + plain.w) * 1e-6
    assert math.isclose(plain.surprise([0], [0.5], []), -math.log10(tail))
    assert fixed.surprise([0], [0.5], []) == plain.surprise([0], [0.5], [])
    # a view with a positive largest value is read alike (the Pareto tail)
    assert fixed.surprise([1], [3.0], []) == plain.surprise([1], [3.0], []) > 1.0


def test_bin0_is_kept_in_the_state_only_when_set() -> None:
    plain, fixed = _flat(False), _flat(True)
    assert "bin0" not in plain.state() and fixed.state()["bin0"] is True
    assert TailCalibrator.from_state(fixed.state()).bin0 is True
    assert TailCalibrator.from_state(plain.state()).bin0 is False  # states saved before it: unset
