"""nab_transform: with the identity for the transform it is the default detector, whichever judges
see the transformed series; the scale is fixed from the first values."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_transform import SCALE_FROM, scale_of, transformed_scores

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


@pytest.mark.parametrize("where", ["all", "mv"])
def test_the_identity_transform_is_the_default_detector(where: str) -> None:
    own = file_scores(FILE, bagless_scores)
    assert max(own) >= 0.5  # a file where the detector alerts
    scales: list[float] = []

    def identity(x: float, s: float) -> float:
        scales.append(s)
        return x

    assert file_scores(FILE, transformed_scores, where, 0.5, identity) == own
    assert set(scales) == {scale_of(_first_values(), 0.5)}


def test_asinh_changes_the_scores_and_the_scale_is_the_median_of_the_first_values() -> None:
    assert scale_of([1.0, -3.0, 2.0], 1.0) == 2.0 and scale_of([0.0, 0.0], 0.1) == 1.0
    own = file_scores(FILE, bagless_scores)
    assert file_scores(FILE, transformed_scores, "mv", 1.0) != own


def _first_values() -> list[float]:
    from pipeline.anomaly.series_io import read_series

    sf = read_series(FILE)
    vals = [sf.values[i] for i in sf.order]
    return [v for v in vals if v is not None][:SCALE_FROM]
