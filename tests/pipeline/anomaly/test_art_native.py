"""The compiled adaptive-resonance judge (``pipeline/anomaly/_art.c``) gives the Python judge's
numbers bit for bit, carries on from its state and back, and pickles."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from pipeline.anomaly import _art  # type: ignore[attr-defined]  # built by make install
from pipeline.anomaly import art as art_mod
from pipeline.anomaly.art import ArtJudge, art_scores, compiled, packed_state, restore_judge
from pipeline.anomaly.context import ContextDetector
from pipeline.anomaly.fuzzy_art import DualVigilanceArt, complement
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"
#: Real series of every shape the judge meets: spikes and a failure, a flat middle, tweets, traffic.
FILES = ("realKnownCause/ec2_request_latency_system_failure.csv",
         "artificialWithAnomaly/art_daily_flatmiddle.csv", "realTweets/Twitter_volume_KO.csv",
         "realTraffic/speed_7578.csv", "realAdExchange/exchange-2_cpc_results.csv")


def _values(name: str) -> tuple[list[float], list[float | None]]:
    sf = read_series(NAB / name)
    return [sf.times[i] for i in sf.order], [sf.values[i] for i in sf.order]


@pytest.mark.parametrize("name", FILES)
def test_compiled_judge_and_detector_equal_the_python_ones_bit_for_bit(name: str, monkeypatch) -> None:
    times, values = _values(name)
    runs = {}
    for env in ("0", "1"):
        monkeypatch.setenv("WATCHLAKE_NATIVE", env)
        det = ContextDetector()
        scores = [det.step(t, v).score for t, v in zip(times, values, strict=True)]
        runs[env] = (art_scores(values), scores, det.state(), type(det.art))
    (a0, s0, st0, t0), (a1, s1, st1, t1) = runs["0"], runs["1"]
    assert t0 is ArtJudge and t1 is _art.ArtCore  # each path really ran
    assert np.array_equal(a0, a1, equal_nan=True) and np.nanmax(a1) > 0  # anomalies were judged
    assert s0 == s1 and st0 == st1


def test_the_core_carries_on_from_a_python_state_and_back(monkeypatch) -> None:
    _, values = _values(FILES[0])
    monkeypatch.setenv("WATCHLAKE_NATIVE", "1")
    ref, judge = ArtJudge(), ArtJudge()
    cut = 2000
    for x in values[:cut]:
        if x is not None:
            ref.push(x)
            judge.push(x)
    core = compiled(judge)
    assert isinstance(core, _art.ArtCore) and core.state() == judge.state() == ref.state()
    back = None
    for i, x in enumerate(values[cut:]):
        if x is None:
            continue
        if i == 1000:  # halfway: the core's state taken back into the Python judge
            back = ArtJudge.from_state(json.loads(json.dumps(core.state())))
        r = ref.push(x)
        assert core.push(x) == r
        if back is not None:
            assert back.push(x) == r
    assert back is not None and core.state() == ref.state() == back.state()
    copy = pickle.loads(pickle.dumps(core))
    assert isinstance(copy, _art.ArtCore) and copy.state() == core.state()
    assert restore_judge(core.state()).state() == core.state()


@pytest.mark.parametrize("env", ["0", "1"])
def test_the_packed_state_is_the_same_numbers_in_less_json(env: str, monkeypatch) -> None:
    monkeypatch.setenv("WATCHLAKE_NATIVE", env)
    _, values = _values(FILES[2])
    judge: object = ArtJudge()
    for x in values[:14000]:
        if x is not None and judge.push(x) == 0.0:
            judge = compiled(judge)
    plain, packed = judge.state(), packed_state(judge)
    assert isinstance(packed["art"]["w"], str) and len(json.dumps(packed)) < 0.8 * len(json.dumps(plain))
    back = restore_judge(json.loads(json.dumps(packed)))
    assert type(back) is type(judge) and back.state() == plain
    for x in values[14000:]:
        if x is not None:
            assert back.push(x) == judge.push(x)


def test_no_compiled_judge_during_the_probation_or_when_turned_off(monkeypatch) -> None:
    judge = ArtJudge()
    for i in range(100):
        judge.push(float(i % 7))
    assert compiled(judge) is judge  # the probation (750 values) is not over
    with pytest.raises(ValueError, match="probation is not over"):
        _art.ArtCore(judge.state())
    for i in range(700):
        judge.push(float(i % 7))
    monkeypatch.setenv("WATCHLAKE_NATIVE", "0")
    assert compiled(judge) is judge and type(restore_judge(judge.state())) is ArtJudge
    monkeypatch.setenv("WATCHLAKE_NATIVE", "1")
    assert isinstance(compiled(judge), _art.ArtCore)


def test_a_bad_state_is_refused_with_its_reason() -> None:
    judge = ArtJudge()
    for i in range(800):
        judge.push(float(i % 5))
    st = judge.state()
    with pytest.raises(ValueError, match="ART state: fwin is missing"):
        _art.ArtCore({k: v for k, v in st.items() if k != "fwin"})
    with pytest.raises(ValueError, match="ART state: lo must be a number"):
        _art.ArtCore({**st, "lo": "0"})
    with pytest.raises(ValueError, match="ART state: art.w has 1 values, expected"):
        _art.ArtCore({**st, "art": {**st["art"], "w": st["art"]["w"][:1]}})
    with pytest.raises(ValueError, match="ART state: art.w has 3 values, expected 32"):
        _art.ArtCore({**st, "art": {**st["art"], "w": [[0.5] * 3] * len(st["art"]["w"])}})
    with pytest.raises(ValueError, match="medbin has 3 values"):
        _art.ArtCore({**st, "medbin": [1, 2, 3]})
    with pytest.raises(ValueError, match="window"):
        _art.ArtCore({**st, "window": 6})
    pickled = _art.ArtCore(st).__reduce__()[1][0]  # categories as raw doubles
    assert isinstance(pickled["art"]["w"], bytes)
    with pytest.raises(ValueError, match="disagree"):
        _art.ArtCore({**pickled, "art": {**pickled["art"], "w": pickled["art"]["w"][:-8]}})


def test_compiled_present_equals_numpy_on_the_same_arrays(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    arts = {env: DualVigilanceArt(8, cap=6, rho_lb=0.7, rho_ub=0.85) for env in ("0", "1")}
    for _ in range(400):  # more patterns than categories: replacements too
        x = complement(np.round(rng.random(4) * 5) / 5)
        out = {}
        for env, a in arts.items():
            monkeypatch.setenv("WATCHLAKE_NATIVE", env)
            out[env] = a.present(x)
        assert out["0"] == out["1"]
    assert arts["0"].state() == arts["1"].state() and arts["1"].n == 6


def test_the_module_flag_follows_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("WATCHLAKE_NATIVE", "0")
    assert not art_mod.native()
    monkeypatch.setenv("WATCHLAKE_NATIVE", "1")
    assert art_mod.native()
