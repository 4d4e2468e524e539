"""nab_ensemble: a one-member bag is the detector itself; the bag silences once, after combining."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_debounce import debounce
from benchmarks.nab_ensemble import combine
from benchmarks.nab_eval import BAGLESS
from pipeline.anomaly.base import NEAR_SPAN
from pipeline.anomaly.context import ContextDetector
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data"


def _scores(**params: float | bool) -> list[float]:
    sf = read_series(NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    d = ContextDetector(**params)
    out = [0.0] * len(sf.values)
    for i in sf.order:
        out[i] = d.step(sf.times[i], sf.values[i]).score
    return out


def test_a_bag_of_one_unsilenced_detector_is_the_default_detector() -> None:
    own, full = _scores(near=False), _scores(refractory=0, near=False)
    assert combine([full], "median") == own
    assert full != own and max(own) >= 0.5  # the silence did act: an alert was raised
    assert debounce(combine([full], "median"), span=NEAR_SPAN) == _scores()  # and the near-alert silence


def test_the_median_of_three_takes_the_middle_member_point_by_point() -> None:
    a, b, c = [0.1, 0.6, 0.2, 0.9], [0.3, 0.2, 0.55, 0.1], [0.2, 0.7, 0.1, 0.3]
    assert combine([a, b, c], "median", refractory=0) == [0.2, 0.6, 0.2, 0.3]
    # the alert at the second point (0.6) starts the count at 1: points until it reaches
    # ``refractory`` are halved (here the third), as in every detector's silence
    assert combine([a, b, c], "median", refractory=2) == [0.2, 0.6, 0.1, 0.3]
    assert combine([a, b, c], "median", refractory=3) == [0.2, 0.6, 0.1, 0.15]


def test_the_multiview_bag_is_the_whole_detector_bag_by_another_route() -> None:
    """The sequence and resonance judges do not depend on the calibration half-life, so the median
    of three whole detectors (each unsilenced, silenced after combining) must equal one detector
    whose multiview answers with its three members' median surprise."""
    from benchmarks.nab_ensemble import mv_bag_scores
    from benchmarks.nab_eval import file_scores

    path = NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv"
    hs = (600.0, 1000.0, 2000.0)
    members = [_scores(halflife=h, block=4, refractory=0, near=False, runs=False) for h in hs]
    whole = debounce(combine(members, "median"), span=NEAR_SPAN)
    assert file_scores(path, mv_bag_scores, hs) == whole  # both on the default before the bag (BAGLESS)
    assert file_scores(path, mv_bag_scores, (1000.0,)) == _scores(**BAGLESS)
    assert whole != _scores(**BAGLESS)
