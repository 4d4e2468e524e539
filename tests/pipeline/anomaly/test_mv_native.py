"""The compiled multiview core (``pipeline/anomaly/_mv*.c``) gives MultiViewDetector's numbers and
state bit for bit (surprise then absorb, as the context detector asks them), carries on from its
state and back, pickles, and refuses a state that does not fit, naming the key."""

from __future__ import annotations

import json
import math
import pickle
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from pipeline.anomaly import _mv  # type: ignore[attr-defined]  # built by make install
from pipeline.anomaly import multiview as mv_mod
from pipeline.anomaly.model import SeasonalModel
from pipeline.anomaly.multiview import MultiViewDetector, mv_core, restore_mv
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"
#: Real series of every shape the detector meets: spikes and a failure, a flat middle, tweets, traffic.
FILES = ("realKnownCause/ec2_request_latency_system_failure.csv",
         "artificialWithAnomaly/art_daily_flatmiddle.csv", "realTweets/Twitter_volume_KO.csv",
         "realTraffic/speed_7578.csv", "realAdExchange/exchange-2_cpc_results.csv")
#: (slow_views, halflife, bin0): the context detector's (three views, 600 / 1,000 / 2,000, bin 0 not
#: extrapolated past 0), its previous one and multiview's own (five views, 3,000)
SETTINGS = [(False, 1000.0, True), (False, 600.0, True), (False, 2000.0, True), (False, 1000.0, False),
            (False, 3000.0, False), (True, 1000.0, False), (True, 3000.0, False)]


def _points(name: str) -> list[tuple[float, float]]:
    sf = read_series(NAB / name)
    return [(sf.times[i], v) for i in sf.order if (v := sf.values[i]) is not None]


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down; floats bit for bit (any NaN equals any NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a != a and b != b) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def _py_step(det: MultiViewDetector, t: float, x: float) -> tuple[float, float, float] | None:
    """What the core's step gives: MultiViewDetector.surprise then absorb of the same point."""
    s, j = det.surprise(t, x)
    det.absorb(t, x, j, s)
    return None if j is None else (s, j[3], j[4])


def _py_peek(det: MultiViewDetector, t: float, x: float) -> tuple[float, float, float] | None:
    s, j = det.surprise(t, x)
    return None if j is None else (s, j[3], j[4])


def _stream_both(det: MultiViewDetector, core: Any, points: list[tuple[float, float]],
                 probe_every: int = 0) -> list[Any]:
    """Each point through both, every answer the same (and a peek every ``probe_every`` points, at
    the point and at a value far from it, the same and changing nothing); the core's answers."""
    out = []
    for i, (t, x) in enumerate(points):
        if probe_every and i % probe_every == 0:
            for probe in (x, 2.0 * x + 1.0, -x):
                got, want = core.peek(t, probe), _py_peek(det, t, probe)
                assert same(got, want), (i, probe, got, want)
        got, want = core.judge(t, x), _py_step(det, t, x)
        assert same(got, want), (i, t, x, got, want)
        out.append(got)
    return out


@pytest.mark.parametrize("name", FILES)
def test_the_core_equals_the_python_detector_bit_for_bit_on_nab(name: str) -> None:
    points = _points(name)
    for slow_views, halflife, bin0 in SETTINGS:
        det = MultiViewDetector(halflife=halflife, slow_views=slow_views, bin0=bin0)
        core = _mv.MvCore(det.state())
        assert core.state()["calib"].get("bin0", False) is bin0
        assert same(core.state(), det.state())
        out = _stream_both(det, core, points, probe_every=7)
        judged = [r for r in out if r is not None]
        assert out[0] is None and len(judged) == len(points) - 30  # the warm-up, then every point
        assert max(r[0] for r in judged) > 1.0  # rare points were met (not only the < 0.7 shortcut)
        assert same(core.state(), det.state()), (slow_views, halflife)
        assert core.k == det.k and core.scale == det.scale and core.nonneg is det.model.nonneg


def test_the_python_detector_answers_as_the_core_judge_peek_forecast() -> None:
    """What ``context`` and the band ask of either form: ``judge`` (surprise then absorb),
    ``peek`` and ``forecast`` (the forecaster's ``best``, also before and between points)."""
    points = _points(FILES[0])
    det = MultiViewDetector(halflife=1000.0, slow_views=False)
    ref = MultiViewDetector(halflife=1000.0, slow_views=False)
    core = _mv.MvCore(det.state())
    for i, (t, x) in enumerate(points):
        for when in (t, t + 150.0, t + 7 * 86400.0):
            want = ref.model.best(when)
            assert same(det.forecast(when), want) and same(core.forecast(when), want)
        assert same(det.peek(t, x), core.peek(t, x))
        want = _py_step(ref, t, x)
        assert same(det.judge(t, x), want) and same(core.judge(t, x), want), i
        assert det.nonneg is core.nonneg is ref.model.nonneg
    assert core.forecast(points[-1][0] + 300.0) is not None
    assert _mv.MvCore(MultiViewDetector().state()).forecast(0.0) is None  # the warm-up
    assert same(det.state(), ref.state()) and same(core.state(), ref.state())


def test_the_core_carries_on_from_a_python_state_and_back(monkeypatch) -> None:
    monkeypatch.setenv("WATCHLAKE_NATIVE", "1")
    points = _points(FILES[2])
    cut, back_at = 6000, 11000
    for slow_views in (False, True):
        ref = MultiViewDetector(halflife=1000.0, slow_views=slow_views)
        for t, x in points[:cut]:
            _py_step(ref, t, x)
        core = mv_core(MultiViewDetector.from_state(json.loads(json.dumps(ref.state()))))
        assert isinstance(core, _mv.MvCore) and same(core.state(), ref.state())
        back = None
        for i, (t, x) in enumerate(points[cut:], cut):
            if i == back_at:  # the core's state, through JSON, taken back into the Python detector
                back = MultiViewDetector.from_state(json.loads(json.dumps(core.state())))
                assert same(back.state(), core.state())
            want = _py_step(ref, t, x)
            assert same(core.judge(t, x), want), i
            if back is not None:
                assert same(_py_step(back, t, x), want), i
        assert back is not None and same(core.state(), ref.state()) and same(back.state(), ref.state())
        restored = restore_mv(core.state())
        assert isinstance(restored, _mv.MvCore) and same(restored.state(), ref.state())


def test_the_core_pickles_and_carries_on_alike() -> None:
    points = _points(FILES[0])
    det = MultiViewDetector(halflife=1000.0, slow_views=False)
    core = _mv.MvCore(det.state())
    for t, x in points[:2500]:
        core.judge(t, x)
    copy = pickle.loads(pickle.dumps(core))
    assert isinstance(copy, _mv.MvCore) and same(copy.state(), core.state())
    for t, x in points[2500:]:
        assert same(copy.judge(t, x), core.judge(t, x))
    assert same(copy.state(), core.state())


def test_no_core_when_turned_off(monkeypatch) -> None:
    det = MultiViewDetector()
    monkeypatch.setenv("WATCHLAKE_NATIVE", "0")
    assert mv_core(det) is None
    assert type(restore_mv(det.state())) is MultiViewDetector
    monkeypatch.setenv("WATCHLAKE_NATIVE", "1")
    assert isinstance(mv_core(det), _mv.MvCore)
    monkeypatch.setattr(mv_mod, "_mv", None)  # not built
    assert mv_core(det) is None


def _with(state: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``state`` with ``path`` ("model.daily") set to ``value`` (or removed: ``...``)."""
    out: dict[str, Any] = json.loads(json.dumps(state))
    *outer, key = path.split(".")
    d = out
    for k in outer:
        d = d[k]
    if value is ...:
        del d[key]
    else:
        d[key] = value
    return out


def test_a_bad_state_is_refused_naming_the_key() -> None:
    st = MultiViewDetector().state()
    for path, value, reason in [
        ("recent", ..., "recent is missing"), ("model", ..., "model is missing"),
        ("model.daily", ..., "model.daily is missing"), ("calib.hist", ..., "calib.hist is missing"),
        ("model.daily", [0.0] * 23, "model.daily has 23 values, expected 24"),
        ("recent", [0.0] * 8, "recent has 8 values, expected 7"),
        ("calib.vmax", [0.0] * 5, "calib.vmax has 5 values"),
        ("calib.hist", [[0.0] * 64] * 9, "calib.hist has 9 values"),
        ("calib.hist", [[0.0] * 64] * 9 + [[0.0] * 63], "calib.hist must be 10 lists of 64"),
        ("calib.n_views", 5, "calib.n_views must be 10"),
        ("model.n", 1.5, "model.n must be an int"), ("since_alert", "7", "since_alert must be an int"),
        ("model.daily_n", [-1] + [0] * 23, "model.daily_n = -1 is below 0"),
        ("hi", "x", "hi must be a number"), ("model.weekly", [None] * 168, "model.weekly must hold numbers"),
        ("model.nonneg", 1, "model.nonneg must be a bool"), ("slow_views", "yes", "slow_views must be a bool"),
        ("model", [], "model must be a dict"), ("calib.low", 3, "calib.low must be a list"),
        ("k", 10 ** 400, "k must be a number within a float's range"),
    ]:
        with pytest.raises(ValueError, match=reason):
            _mv.MvCore(_with(st, path, value))
    with pytest.raises(TypeError):
        _mv.MvCore([st])
    core = _mv.MvCore(st)  # a refused state leaves a core as it was
    with pytest.raises(ValueError, match="model.err has 2 values"):
        core.__init__(_with(st, "model.err", [0.0, 0.0]))
    assert same(core.state(), st)
    with pytest.raises(ValueError, match="not given a state"):
        _mv.MvCore.__new__(_mv.MvCore).state()
    # a state saved before slow_views existed judges all five views, as from_state does
    old = _with(st, "slow_views", ...)
    assert _mv.MvCore(old).state()["slow_views"] is True is MultiViewDetector.from_state(old).slow_views
    # parameters come back as given (an int k stays an int)
    assert same(_mv.MvCore(_with(st, "k", 3)).state()["k"], 3)


def _times(n: int, rng: random.Random) -> list[float]:
    """``n`` times every ~5 minutes from before 1970 (negative t), crossing hour boundaries at and
    a hair before them, with repeated times and the clock now and then going back."""
    t = -5 * 86400.0 - 1234.5
    out: list[float] = []
    for i in range(n):
        t += 300.0 + rng.choice((0.0, 0.0, 0.25, -0.25, 1e-7))
        tt = t
        if i % 997 == 0:
            tt = math.floor(t / 3600.0) * 3600.0 - rng.choice((0.0, 1e-9, 5e-7))
        if i % 1013 == 0 and out:
            tt = out[-1] - rng.choice((0.0, 30.0))
        out.append(tt)
    return out


def _hard_series() -> dict[str, list[tuple[float, float]]]:
    """Series for the paths real files seldom take. "constant": a constant stretch (the floor of
    sigma), then a spike over views that never moved (the tail extrapolated from a maximum of 0),
    then values quantised to 0.5. "shifts": a daily cycle of negative values quantised to 0.5 for
    a month (the daily and weekly forecasters take over), a level shift up that then persists, back,
    the same down, and back, then a spike far beyond every bin (the last bin, a tail share that
    underflows to 0: a surprise of 300). A shift is relevelled after 12 flagged points; a point is
    flagged only beyond the largest surprise seen, so the shifts climb 2× (4×) a point for 13 points
    (a plain step is flagged once or twice, then the calibrator has seen it: never relevelled).
    """
    rng = random.Random(11)
    t = _times(500, rng)
    constant = [(t[i], 5.0 if i < 300 else 50.0 if i == 300 else 5.0 + 0.5 * (i % 2) * (i > 330))
                for i in range(500)]
    t = _times(9000, rng)
    shifts = []
    for i, ti in enumerate(t):
        noise = round(rng.gauss(0.0, 1.0) * 2) / 2
        if 4000 <= i < 4300:
            x = 100.0 * 2.0 ** min(i - 4000, 13) + noise
        elif 6000 <= i < 6100:
            x = -1e6 * 4.0 ** min(i - 6000, 13) + noise  # beyond the drop back from the first
        elif i == 7000:
            x = 1e200
        else:
            x = -20.0 + 8.0 * math.sin(2 * math.pi * ti / 86400.0) + noise
        shifts.append((ti, x))
    return {"constant": constant, "shifts": shifts}


def test_relevel_negative_constant_and_pre_1970_paths_are_equal_too(monkeypatch) -> None:
    series = _hard_series()
    assert all(p[0][0] < 0 for p in series.values()) and min(x for _, x in series["shifts"]) < 0
    relevels: list[float] = []
    orig = SeasonalModel.relevel

    def relevel(model: SeasonalModel, x: float) -> None:
        relevels.append(x)
        orig(model, x)

    monkeypatch.setattr(SeasonalModel, "relevel", relevel)
    for slow_views, bin0 in ((False, True), (False, False), (True, False)):
        for halflife in (20.0, 1000.0):  # 20: weights pass 1e100 and are renormalised
            for name, points in series.items():
                det = MultiViewDetector(halflife=halflife, slow_views=slow_views, bin0=bin0)
                core = _mv.MvCore(det.state())
                ws, out = [], []
                for i, (t, x) in enumerate(points):
                    if i % 11 == 0:
                        assert same(core.peek(t, x), _py_peek(det, t, x)), i
                    got, want = core.judge(t, x), _py_step(det, t, x)
                    assert same(got, want), (name, i, t, x, got, want)
                    out.append(got)
                    ws.append(det.calib.w)
                assert same(core.state(), det.state()), (name, slow_views, halflife)
                if name == "constant":  # the spike: surprising only through the 1e-6 of a maximum of 0
                    assert det.model.resolution == 0.5 and out[300] is not None and out[300][0] > 3.0
                    continue
                assert any(r is not None and r[0] == 300.0 - 0.7 for r in out)  # the tail underflowed
                assert halflife > 20.0 or any(b < a for a, b in zip(ws, ws[1:], strict=False))  # renormalised
                assert det.model.err_n[1] > 20 and det.model.err_n[2] > 20  # daily and weekly forecasts
                assert not det.model.nonneg and det.calib.n > 1000
    # up and down, by each setting of halflife 1,000 (a calibrator of half-life 20 flags nothing 12 times)
    assert len(relevels) >= 4 and max(relevels) > 1e5 and min(relevels) < -1e9


def test_sparse_sampling_keeps_the_profiles_bounded_and_equal() -> None:
    """A daily series for three years (each hour-of-day bin gets one value a day, fewer than its
    ~3-day memory asks for) and a 5-minute series with a 5-day gap (the running interval jumps to
    hours): the profiles' weights stay at most 1, so every profile value stays between the
    smallest and largest deviation seen — with a weight of 8 they overshot to inf within a year,
    and the calibrator raised on the NaN. Python and core alike."""
    rng = random.Random(3)
    daily = [(1.7e9 + 86400.0 * i, 100.0 + 10.0 * math.sin(i / 4) + rng.gauss(0.0, 1.0)) for i in range(1100)]
    gap = [(1.7e9 + 300.0 * i + (5 * 86400.0 if i >= 3000 else 0.0), 50.0 + rng.gauss(0.0, 2.0))
           for i in range(6000)]
    for name, points in (("daily", daily), ("gap", gap)):
        det = MultiViewDetector(halflife=1000.0, slow_views=False, bin0=True)
        core = _mv.MvCore(det.state())
        _stream_both(det, core, points)
        assert same(core.state(), det.state()), name
        m = det.model
        assert m.dt > 7200.0 if name == "daily" else max(m.dt, 0.0) < 7200.0  # the gap has faded
        xs = [x for _, x in points]
        span = max(xs) - min(xs)
        for profile in (m.daily, m.weekly):
            assert all(math.isfinite(v) and abs(v) <= span for v in profile), (name, profile)


def test_hours_before_and_after_1970_and_far_away_fall_in_the_same_bins() -> None:
    """int(t // 3600) % 24 and (h + 72) % 168 as Python computes them, on awkward times: the
    forecaster's hour counts record every point's hours."""
    times = []
    for k in (-10 ** 6, -169, -168, -25, -24, -1, 0, 1, 23, 24, 167, 168, 10 ** 6, 10 ** 11):
        for eps in (0.0, -1e-9, 1e-9, -1e-3, 0.5, -0.5, 1799.999, -3599.9999999):
            times.append(k * 3600.0 + eps)
    times += [-1e-300, -0.0, 5e-324, 1e15 + 0.5, -1e15 - 0.5, 7199.999999999999]
    det = MultiViewDetector(warmup=5)
    core = _mv.MvCore(det.state())
    for i, t in enumerate(times):
        assert same(core.judge(t, float(i % 5)), _py_step(det, t, float(i % 5))), t
    assert same(core.state(), det.state())


def test_the_errors_are_the_pythons_at_the_same_point() -> None:
    """Where the Python raises (a NaN or infinite value or time) the core raises the same
    exception, and both states stay equal (the Python's partly changed the same way)."""
    points = _points(FILES[3])[:200]
    det = MultiViewDetector(slow_views=False)
    core = _mv.MvCore(det.state())
    assert core.judge(*points[0]) is None and _py_step(det, *points[0]) is None
    assert core.judge(1.0, math.nan) is None and _py_step(det, 1.0, math.nan) is None  # warm-up: skipped
    for f in (core.judge, lambda t, x: _py_step(det, t, x)):  # t NaN: raised in the forecaster's learn
        with pytest.raises(ValueError, match="NaN"):
            f(math.nan, 3.0)
    assert same(core.state(), det.state())
    for t, x in points[1:100]:
        assert same(core.judge(t, x), _py_step(det, t, x))
    assert same(core.state(), det.state())
    t = points[100][0]
    for bad_t, bad_x, exc in [(t, math.nan, ValueError), (t, math.inf, OverflowError),
                              (t, -math.inf, OverflowError), (math.nan, 1.0, ValueError),
                              (math.inf, 1.0, ValueError)]:
        for f in (core.judge, core.peek):
            with pytest.raises(exc):
                f(bad_t, bad_x)
        with pytest.raises(exc):
            _py_step(det, bad_t, bad_x)
        assert same(core.state(), det.state())
    for t, x in points[100:]:
        assert same(core.judge(t, x), _py_step(det, t, x))
    assert same(core.state(), det.state())
