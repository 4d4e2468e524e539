"""nab_robust: a clip that never binds is the default detector; a binding one changes the levels the
forecaster learns but not its error trackers' view of the raw values."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_robust import _Robust, robust_scores
from pipeline.anomaly.model import SeasonalModel

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_a_clip_that_never_binds_is_the_default_detector() -> None:
    own = file_scores(FILE, bagless_scores)
    assert max(own) >= 0.5
    assert file_scores(FILE, robust_scores, 0.0) == own
    assert file_scores(FILE, robust_scores, 1e300) == own
    assert file_scores(FILE, robust_scores, 2.0) != own


def test_an_outlier_moves_the_level_by_at_most_alpha_k_sigma_and_the_errors_see_it_raw() -> None:
    plain, robust = SeasonalModel(warmup=5), SeasonalModel(warmup=5)
    robust.__class__ = type("R2", (_Robust,), {"__slots__": (), "K": 2.0})
    for i in range(40):
        v = 10.0 + (i % 3)
        plain.learn(i * 300.0, v)
        robust.learn(i * 300.0, v)
    p, sigma = robust.best(40 * 300.0)
    fast = robust.fast
    plain.learn(40 * 300.0, 1000.0)
    robust.learn(40 * 300.0, 1000.0)
    assert abs(robust.fast - fast - 0.1 * 2.0 * sigma) < 1e-9 * (1 + abs(fast))  # x* = p + 2σ, p = fast
    assert plain.fast - fast > 90  # the plain level moves by 10 % of the outlier
    assert robust.err == plain.err and robust.prev == plain.prev == 1000.0
