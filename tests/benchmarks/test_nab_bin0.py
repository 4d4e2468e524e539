"""nab_bin0: the default kind is the default detector; the bin-0 calibrator differs from the
default only for a bin-0 value past a largest value of 0."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_bin0 import Bin0Calibrator, bin0_scores
from benchmarks.nab_eval import bagless_scores, file_scores
from pipeline.anomaly.calibrate import TailCalibrator

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_the_default_kind_is_the_default_detector() -> None:
    assert file_scores(FILE, bin0_scores, "default") == file_scores(FILE, bagless_scores)


def test_only_a_bin0_value_past_a_largest_value_of_0_is_read_differently() -> None:
    plain, b0 = TailCalibrator(2, 1000.0), Bin0Calibrator(2, 1000.0)
    for _ in range(200):  # view 0 has moved (largest 1.0), view 1 never has
        for c in (plain, b0):
            c.learn([0, 1], [1.0, 0.0], [int(4 * 1.0), 0])
    for views, raws in (([0], [3.0]), ([0], [0.1]), ([1], [0.5]), ([1], [2.0])):
        assert plain.surprise(views, raws, []) == b0.surprise(views, raws, []), (views, raws)
    assert plain.surprise([1], [0.05], []) > 6.0          # 0.05 above "never moved": one in a million
    assert b0.surprise([1], [0.05], []) < 0.1             # in bin 0: no deviation at this resolution
