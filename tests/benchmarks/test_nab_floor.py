"""nab_floor: a value inside the band is never extrapolated into rarity; beyond the floor the
Pareto tail is the default's from ``max(vmax, 2)``."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_floor import FloorCalibrator, floor_scores
from pipeline.anomaly.calibrate import TailCalibrator

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def _trained(cal: TailCalibrator, raw: float, n: int = 200) -> TailCalibrator:
    for _ in range(n):
        bins: list[int] = []
        cal.surprise([0], [raw], bins)
        cal.learn([0], [raw], bins)
    return cal


def test_inside_the_floor_only_the_tail_share_counts() -> None:
    # 200 values of 0.1 (bin 0): a later 1.5 lies in bin 5, where nothing was seen, so its tail
    # share is the half-point prior, 0.5 / (total + w); the default multiplies it by (0.1/1.5)^4
    floor, plain = _trained(FloorCalibrator(1, 1e9), 0.1), _trained(TailCalibrator(1, 1e9), 0.1)
    prior = -math.log10(0.5 / 201.0)
    assert math.isclose(floor.surprise([0], [1.5], []), prior, rel_tol=1e-6)
    assert math.isclose(plain.surprise([0], [1.5], []), prior + 4 * math.log10(15.0), rel_tol=1e-6)


def test_beyond_the_floor_the_tail_runs_from_it() -> None:
    floor = _trained(FloorCalibrator(1, 1e9), 0.1)
    prior = -math.log10(0.5 / 201.0)
    assert math.isclose(floor.surprise([0], [8.0], []), prior + 4 * math.log10(4.0), rel_tol=1e-6)
    # above a larger maximum the two agree
    big_f, big_p = _trained(FloorCalibrator(1, 1e9), 5.0), _trained(TailCalibrator(1, 1e9), 5.0)
    assert big_f.surprise([0], [9.0], []) == big_p.surprise([0], [9.0], [])


def test_the_default_kind_is_the_default_detector_bit_for_bit() -> None:
    assert file_scores(FILE, floor_scores, "default") == file_scores(FILE, bagless_scores)
    assert file_scores(FILE, floor_scores, "floor2") != file_scores(FILE, bagless_scores)
