"""The compiled sequence judge (``pipeline/anomaly/_seq.c``) gives the Python ``SequenceModel``'s
numbers and state bit for bit, carries on from its state and back, pickles, and refuses a bad state
with the key that is wrong."""

from __future__ import annotations

import json
import math
import pickle
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from pipeline.anomaly import _seq, calibrate, sequence  # type: ignore[attr-defined]  # _seq: make install
from pipeline.anomaly.context import ContextDetector
from pipeline.anomaly.sequence import SequenceModel, restore_sequence, sequence_model
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"
#: As test_art_native: spikes and a failure, a flat middle, tweets, traffic.
FILES = ("realKnownCause/ec2_request_latency_system_failure.csv",
         "artificialWithAnomaly/art_daily_flatmiddle.csv", "realTweets/Twitter_volume_KO.csv",
         "realTraffic/speed_7578.csv", "realAdExchange/exchange-2_cpc_results.csv")
#: Settings that reach every branch: the default; a short warm-up; three bins, a one-value warm-up
#: and window, a decay that folds the counts (m < 1e-100) and a half-life that renormalises the
#: calibrator (w > 1e100); no warm-up at all.
SETTINGS: tuple[dict[str, Any], ...] = (
    {}, {"warmup": 75, "report_after": 150, "window": 3},
    {"bins": 3, "warmup": 1, "window": 1, "decay": 0.5, "halflife": 2.0, "report_after": 0},
    {"bins": 7, "warmup": 0, "decay": 0.9, "halflife": 50.0, "report_after": 5})


def _series(name: str) -> tuple[list[float], list[float | None]]:
    sf = read_series(NAB / name)
    return [sf.times[i] for i in sf.order], [sf.values[i] for i in sf.order]


def _values(name: str) -> list[float]:
    return [v for v in _series(name)[1] if v is not None]


def _bits(xs: list[float]) -> list[bytes]:
    """Each float's eight bytes: equal lists are equal bit for bit (−0.0 ≠ 0.0, NaN = NaN)."""
    return [struct.pack("<d", x) for x in xs]


def _same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same keys in the same order, the same types, every float the same (json writes
    each float's shortest exact repr, ints without a point)."""
    return json.dumps(a) == json.dumps(b)


@pytest.mark.parametrize("name", FILES)
def test_context_detector_gives_the_same_scores_and_state_either_way(name: str, monkeypatch) -> None:
    times, values = _series(name)
    runs = {}
    for env in ("0", "1"):
        monkeypatch.setenv("WATCHLAKE_NATIVE", env)
        det = ContextDetector(block=4)  # the 4-value judge too (not in the default)
        scores, probes = [], []
        for i, (t, v) in enumerate(zip(times, values, strict=True)):
            if i % 97 == 0:  # score_one: the learn=False path of both sequence judges
                probes.append(det.score_one(t, v if v is None else v * 1.7).score)
            scores.append(det.step(t, v).score)
        runs[env] = (scores, probes, det.state(), type(det.seq), type(det.block))
    (s0, p0, st0, seq0, blk0), (s1, p1, st1, seq1, blk1) = runs["0"], runs["1"]
    assert seq0 is blk0 is SequenceModel and seq1 is blk1 is _seq.SeqCore  # each path really ran
    assert max(s1) > 0.5  # the sequence judges reported (past report_after) and something scored
    assert _bits(s0) == _bits(s1) and _bits(p0) == _bits(p1)
    assert _same_state(st0["seq"], st1["seq"]) and _same_state(st0["block"], st1["block"])
    # the rest too, bit for bit (the compiled resonance judge writes its keys in another order)
    assert json.dumps(st0, sort_keys=True) == json.dumps(st1, sort_keys=True)


def _feed(models: list[Any], values: list[float], rng: random.Random) -> list[list[float]]:
    """Every value learnt by each model, a learn=False probe before every third one (a scaled or
    shifted value: inside the grid, below it, above it); each model's outputs."""
    outs: list[list[float]] = [[] for _ in models]
    for i, x in enumerate(values):
        probes = [x * rng.choice((0.5, 1.0, 3.0)) + rng.choice((-50.0, 0.0, 50.0))] if i % 3 == 0 else []
        for m, out in zip(models, outs, strict=True):
            for p in probes:
                out.append(m.surprise(p, learn=False))
            out.append(m.surprise(x))
    return outs


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default")
def test_the_core_equals_the_python_model_value_for_value(settings: dict[str, Any]) -> None:
    values = _values(FILES[2])[:6000] + _values(FILES[0])[:3000]  # a regime change
    values += [values[-1]] * 500 + [1e9, -1e9, 0.0, -0.0, 5e-324]  # flat, then extremes
    py, core = SequenceModel(**settings), _seq.SeqCore(**settings)
    assert _same_state(py.state(), core.state())
    out_py, out_core = _feed([py, core], values, random.Random(3))
    assert _bits(out_py) == _bits(out_core) and max(out_py) > 1.0
    assert _same_state(py.state(), core.state())
    st = core.state()
    assert st["calib"]["n"] > 1000  # the shortcut bins were refreshed (low > 0 on these values by default)
    assert st["calib"]["low"][0] > 0 or settings.get("decay", 0.9995) < 0.9995
    # halflife 2: w doubles every 2 values, past 1e100 (2^333) every ~670; decay 0.5: the 500 flat
    # values visit one context far more than the 333 times that take its scale below 1e-100


def test_odd_values_go_the_same_way_errors_included() -> None:
    """Infinities and NaN in the warm-up (sorted by list.sort in both), a NaN grid that starts a new
    warm-up, then values the Python model refuses: both raise the same error, state untouched."""
    rng = random.Random(11)
    for trial in range(40):
        py, core = SequenceModel(warmup=20, report_after=30), _seq.SeqCore(warmup=20, report_after=30)
        pool = [rng.gauss(0, 1) for _ in range(5)] + [math.inf, -math.inf, math.nan, 0.0, -0.0, 1e308, -1e308]
        for _ in range(120):
            x = rng.choice(pool)
            learn = rng.random() < 0.8
            res = []
            for m in (py, core):
                try:
                    res.append(("ok", struct.pack("<d", m.surprise(x, learn=learn))))
                except (ValueError, OverflowError) as e:
                    res.append((type(e).__name__, b""))
            assert res[0] == res[1], (trial, x, learn)
            assert _same_state(py.state(), core.state())


def test_the_core_carries_on_from_a_python_state_and_back() -> None:
    values = _values(FILES[2])
    for cut in (150, 2500):  # during the warm-up (300 values) and after
        ref, py = SequenceModel(), SequenceModel()
        for x in values[:cut]:
            ref.surprise(x)
            py.surprise(x)
        core = _seq.SeqCore(json.loads(json.dumps(py.state())))  # through JSON, as a checkpoint
        assert _same_state(core.state(), ref.state())
        back = None
        for i, x in enumerate(values[cut:cut + 3000]):
            if i == 1000:  # the core's state taken back into the Python model
                back = SequenceModel.from_state(json.loads(json.dumps(core.state())))
            r = ref.surprise(x)
            assert struct.pack("<d", core.surprise(x)) == struct.pack("<d", r)
            if back is not None:
                assert struct.pack("<d", back.surprise(x)) == struct.pack("<d", r)
        assert back is not None and _same_state(core.state(), ref.state()) and _same_state(back.state(), ref.state())


def test_a_saved_detector_restores_compiled_and_scores_the_same(monkeypatch) -> None:
    """A state saved by the Python path (as before this module existed) restores compiled."""
    times, values = _series(FILES[1])
    monkeypatch.setenv("WATCHLAKE_NATIVE", "0")
    det = ContextDetector()
    for t, v in zip(times[:2000], values[:2000], strict=True):
        det.step(t, v)
    saved = json.loads(json.dumps(det.state()))
    restored = {}
    for env in ("0", "1"):
        monkeypatch.setenv("WATCHLAKE_NATIVE", env)
        d = ContextDetector.from_state(json.loads(json.dumps(saved)))  # a copy: multiview's restore keeps its lists
        restored[env] = (type(d.seq), [d.step(t, v).score for t, v in zip(times[2000:], values[2000:], strict=True)],
                         d.state())
    assert restored["0"][0] is SequenceModel and restored["1"][0] is _seq.SeqCore
    assert _bits(restored["0"][1]) == _bits(restored["1"][1])
    assert json.dumps(restored["0"][2], sort_keys=True) == json.dumps(restored["1"][2], sort_keys=True)


def test_the_core_pickles_in_and_after_its_warm_up() -> None:
    values = _values(FILES[4])
    core, ref = _seq.SeqCore(), SequenceModel()
    for cut in (100, 1500):
        while ref.seen < cut:
            x = values[ref.seen]
            core.surprise(x)
            ref.surprise(x)
        copy = pickle.loads(pickle.dumps(core))
        assert isinstance(copy, _seq.SeqCore) and _same_state(copy.state(), core.state())
        for x in values[cut:cut + 200]:
            assert struct.pack("<d", copy.surprise(x)) == struct.pack("<d", ref.surprise(x))
            core.surprise(x)
        assert _same_state(copy.state(), ref.state())


def test_the_factories_follow_the_switch(monkeypatch) -> None:
    monkeypatch.setenv("WATCHLAKE_NATIVE", "0")
    m = sequence_model(bins=5, warmup=10)
    assert type(m) is SequenceModel and type(restore_sequence(m.state())) is SequenceModel
    monkeypatch.setenv("WATCHLAKE_NATIVE", "1")
    c = sequence_model(bins=5, warmup=10)
    assert type(c) is _seq.SeqCore and type(restore_sequence(m.state())) is _seq.SeqCore
    assert _same_state(c.state(), m.state()) and (c.bins, c.warmup, c.window, c.seen) == (5, 10, 10, 0)
    monkeypatch.setattr(sequence, "_seq", None)  # not built: Python whatever the switch says
    assert type(sequence_model()) is SequenceModel and type(restore_sequence(c.state())) is SequenceModel


def test_the_constants_written_in_c_are_the_python_ones() -> None:
    assert _seq.LOG10 == calibrate._LOG10 and _seq.VMAX_DECAY == calibrate._VMAX_DECAY
    assert (_seq.REFRESH, _seq.MIN_EXTRAPOLATE, _seq.BINS) == (calibrate.REFRESH, calibrate.MIN_EXTRAPOLATE,
                                                               calibrate.BINS)
    assert calibrate.TAIL_EXP == 4.0 and sequence._PRIOR == 0.1


def _warm_state() -> dict[str, Any]:
    m = SequenceModel(bins=4, warmup=10)
    for i in range(40):
        m.surprise(float(i % 7))
    return m.state()


@pytest.mark.parametrize(("change", "match"), [
    (lambda s: s.pop("counts"), "counts is missing"),
    (lambda s: s["calib"].pop("hist"), "calib.hist is missing"),
    (lambda s: s.update(extra=1), "unknown key 'extra'"),
    (lambda s: s["calib"].update(views=1), "unknown key 'views' in calib$"),
    (lambda s: s.update(counts=s["counts"][:-1]), "counts has 63 values, expected 64"),
    (lambda s: s.update(scale=s["scale"] + [1.0]), "scale has 17 values, expected 16"),
    (lambda s: s.update(recent=[0.0] * 11), "recent has 11 values, expected 0 to 10"),
    (lambda s: s.update(warm=[1.0]), "warm must be empty once the grid is fixed"),
    (lambda s: s.update(bins="4"), "bins must be an int"),
    (lambda s: s.update(bins=2), "bins = 2 is outside 3 to 256"),
    (lambda s: s.update(decay="0.9"), "decay must be a number"),
    (lambda s: s["total"].__setitem__(3, None), "total must hold numbers"),
    (lambda s: s.update(prev1=4), "prev1 = 4 is outside -1 to 3"),
    (lambda s: s.update(prev1=-1), "prev1 is -1"),
    (lambda s: s.update(calib=[]), "calib must be a dict"),
    (lambda s: s["calib"].update(n_views=2), "calib.n_views = 2 is outside 1 to 1"),
    (lambda s: s["calib"].update(hist=[[0.0] * 63]), "calib.hist has 63 values, expected 64"),
    (lambda s: s["calib"].update(low=[64]), "calib.low = 64 is outside 0 to 63"),
    (lambda s: s["calib"].update(vmax=1.0), "calib.vmax must be a list"),
])
def test_a_bad_state_is_refused_naming_its_key(change, match: str) -> None:
    st = _warm_state()
    assert _same_state(_seq.SeqCore(st).state(), st)
    change(st)
    with pytest.raises(ValueError, match=match):
        _seq.SeqCore(st)


def test_a_bad_warm_up_state_and_bad_settings_are_refused() -> None:
    m = SequenceModel(warmup=10)
    for i in range(5):
        m.surprise(float(i))
    st = m.state()
    assert _same_state(_seq.SeqCore(st).state(), st)
    with pytest.raises(ValueError, match="warm has 10 values, expected 0 to 9"):
        _seq.SeqCore({**st, "warm": [1.0] * 10})
    with pytest.raises(ValueError, match="bins must be 3 to 256"):
        _seq.SeqCore(bins=1000)
    with pytest.raises(TypeError, match="not both"):
        _seq.SeqCore(st, bins=4)
    with pytest.raises(ZeroDivisionError):  # as SequenceModel(halflife=0.0)
        _seq.SeqCore(halflife=0.0)
    core = _seq.SeqCore(st)
    with pytest.raises(ValueError):
        core.__init__({**st, "counts": []})  # a failed re-init leaves the model as it was
    assert _same_state(core.state(), st)
    with pytest.raises(RuntimeError, match="not initialised"):
        _seq.SeqCore.__new__(_seq.SeqCore).surprise(1.0)
