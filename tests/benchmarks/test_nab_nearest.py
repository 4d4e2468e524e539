"""nab_nearest: the default kind is the default detector (multiview on its Python path); the
nearest-forecast view reads the smallest residual among the eligible forecasts; the no-shift kind
judges two views."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_nearest import NearestMultiView, NoShiftMultiView, nearest_scores
from pipeline.anomaly.multiview import MultiViewDetector

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_the_default_kind_is_the_default_detector_and_the_variants_differ() -> None:
    own = file_scores(FILE, bagless_scores)
    assert max(own) >= 0.5
    assert file_scores(FILE, nearest_scores, "default") == own
    assert file_scores(FILE, nearest_scores, "nearest forecast") != own
    assert file_scores(FILE, nearest_scores, "no robust shift") != own


def test_the_spike_view_reads_the_nearest_eligible_forecast() -> None:
    plain, near, two = (k(halflife=1000.0, slow_views=False)
                        for k in (MultiViewDetector, NearestMultiView, NoShiftMultiView))
    day = 86400.0
    for i in range(3 * 288):  # three days of a daily cycle: the hour-of-day profile earns its place
        t, x = i * 300.0, 100.0 + 50.0 * ((i % 288) >= 144)
        for d in (plain, near, two):
            d.judge(t, x)
    t = 3 * day + 150 * 300.0  # the high half of the cycle
    p0, p1, _, _, _ = near.model._forecasts(t)
    assert p1 is not None and near.model.err_n[1] >= 20 and abs(p1 - 150.0) < abs(p0 - 150.0)
    x = p0  # exactly the level's forecast: the nearest residual is 0
    jp, jn = plain._views(t, x), near._views(t, x)
    assert jn[1][0] == 0.0 and jp[1][0] == abs(x - jp[3]) / jp[4] and jn[3:] == jp[3:]
    assert len(two._views(t, x)[0]) == 2
