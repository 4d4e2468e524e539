"""The multiview bag answers with the median of its members run alone, keeps the previous
default's band, round-trips its state and is what ``context`` judges with by default."""

from __future__ import annotations

import json
import pickle
import statistics
from pathlib import Path

import pytest

from pipeline.anomaly import restore_detector
from pipeline.anomaly.bag import BAG, MultiViewBag
from pipeline.anomaly.context import ContextDetector
from pipeline.anomaly.multiview import MultiViewDetector, _mv
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"
FILE = NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv"


def _series() -> tuple[list[float], list[float]]:
    sf = read_series(FILE)
    return [sf.times[i] for i in sf.order], [v for v in (sf.values[i] for i in sf.order) if v is not None]


def test_the_bag_is_the_median_of_its_members_run_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHLAKE_NATIVE", "0")  # the Python members against the Python detectors
    times, values = _series()
    bag = MultiViewBag.of(reversed(BAG), slow_views=False)  # sorted: the middle one is 1,000
    alone = [MultiViewDetector(halflife=h, slow_views=False) for h in BAG]
    differ = 0
    for t, x in zip(times, values, strict=True):
        got = bag.judge(t, x)
        js = [m.judge(t, x) for m in alone]
        if js[1] is None:
            assert got is None
            continue
        assert got is not None
        assert got == (statistics.median(j[0] for j in js if j), js[1][1], js[1][2])
        differ += len({j[0] for j in js if j}) > 1
    assert differ > len(values) // 2  # the half-lives really disagree


def test_three_compiled_members_are_judged_in_one_call_with_the_same_numbers() -> None:
    """``_mv.judge3`` against the three cores judged one by one and ``statistics.median`` (the
    cores built directly: this holds with ``WATCHLAKE_NATIVE=0`` too, which only stops the
    detectors from choosing them)."""
    times, values = _series()
    bag = MultiViewBag([_mv.MvCore(MultiViewDetector(halflife=h).state()) for h in BAG])
    assert bag.judge.func is _mv.judge3  # type: ignore[attr-defined]
    alone = [_mv.MvCore(MultiViewDetector(halflife=h).state()) for h in BAG]
    judged = 0
    for t, x in zip(times, values, strict=True):
        got, js = bag.judge(t, x), [m.judge(t, x) for m in alone]
        want = None if None in js else (statistics.median(j[0] for j in js), js[1][1], js[1][2])
        assert got == want
        judged += got is not None
    assert judged > len(values) - 1000
    assert [m.state() for m in bag.members] == [m.state() for m in alone]
    with pytest.raises(ValueError, match="cannot convert float NaN to integer"):  # as a member raises
        bag.judge(float("nan"), 1.0)
    with pytest.raises(TypeError, match="MvCore"):
        _mv.judge3((alone[0], alone[1], MultiViewDetector()), 0.0, 1.0)
    with pytest.raises(TypeError, match="expects"):
        _mv.judge3(alone, 0.0, 1.0)  # a list, not a tuple


def test_five_members_and_an_even_bag() -> None:
    times, values = _series()
    hs = (300.0, 600.0, 1000.0, 2000.0, 3000.0)
    bag = MultiViewBag.of(hs, slow_views=False)
    alone = [MultiViewDetector(halflife=h, slow_views=False) for h in hs]
    for t, x in zip(times[:800], values[:800], strict=True):
        js = [m.judge(t, x) for m in alone]
        got = bag.judge(t, x)
        assert got == (None if js[2] is None else (statistics.median(j[0] for j in js if j), js[2][1], js[2][2]))
    with pytest.raises(ValueError, match="odd number"):
        MultiViewBag.of((600.0, 1000.0))


def test_the_default_band_is_the_previous_defaults() -> None:
    """The middle member is the previous default's multiview: the same forecast and band."""
    times, values = _series()
    new, old = ContextDetector(), ContextDetector(halflife=1000.0, block=4)
    assert isinstance(new.mv, MultiViewBag) and not isinstance(old.mv, MultiViewBag)
    scores_differ = False
    for t, x in zip(times, values, strict=True):
        a, b = new.step(t, x), old.step(t, x)
        assert (a.expected, a.lower, a.upper) == (b.expected, b.lower, b.upper)
        scores_differ |= a.score != b.score
    assert scores_differ


def test_state_round_trips_and_pickles() -> None:
    times, values = _series()
    d = ContextDetector()
    for t, x in zip(times[:2000], values[:2000], strict=True):
        d.step(t, x)
    st = json.loads(json.dumps(d.state()))
    assert len(st["mv"]["bag"]) == 3
    copy, pickled = restore_detector("context", st), pickle.loads(pickle.dumps(d))
    rest = list(zip(times[2000:], values[2000:], strict=True))
    want = [d.step(t, x) for t, x in rest]
    assert [copy.step(t, x) for t, x in rest] == want == [pickled.step(t, x) for t, x in rest]
