"""The default ``context`` detector: streaming contract, bounded state, sequence novelty, NAB."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from benchmarks import nab
from pipeline.anomaly import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, make_detector, restore_detector
from pipeline.anomaly.context import ContextDetector
from pipeline.anomaly.multiview import MultiViewDetector
from pipeline.anomaly.sequence import SequenceModel
from tests.pipeline.anomaly.test_detectors import _leaves

NAB_CORPUS = Path(__file__).resolve().parents[2] / "data" / "nab-corpus"


def _rhythm(n: int, seed: int = 1) -> list[float]:
    """A batch job: 6 points low, 6 points high, over and over, with a little noise."""
    rng = random.Random(seed)
    return [(10.0 if (i // 6) % 2 == 0 else 30.0) + rng.gauss(0, 0.5) for i in range(n)]


def test_default_is_context_and_score_one_does_not_learn() -> None:
    assert DEFAULT_DETECTOR == "context" and isinstance(make_detector(), ContextDetector)
    a, b = ContextDetector(), ContextDetector()
    vals = _rhythm(1500)
    for i, v in enumerate(vals):
        before = json.dumps(a.state())
        s1 = a.score_one(300.0 * i, v)
        assert json.dumps(a.state()) == before  # judging a point changes nothing
        a.learn_one(300.0 * i, v)
        assert s1 == b.step(300.0 * i, v)  # score_one + learn_one ≡ step
    assert a.step(1e9, None).score == 0.0 and a.step(1e9, float("nan")).score == 0.0


def _with_gaps(n: int) -> tuple[list[float], list[float]]:
    """The rhythm at 5-minute steps, with gaps of 13 and 100 intervals after rows 900 and 1,200."""
    times, t = [], 0.0
    for i in range(n):
        t += 300.0 * (13 if i == 900 else 100 if i == 1200 else 1)
        times.append(t)
    return times, _rhythm(n, seed=3)


def test_across_a_gap_the_sequence_and_resonance_judges_wait_for_their_windows() -> None:
    times, vals = _with_gaps(1500)
    a, b, c = ContextDetector(), ContextDetector(), ContextDetector(gaps=False)
    got, copy = [], None
    for i, (t, v) in enumerate(zip(times, vals, strict=True)):
        s = a.step(t, v)
        got.append(s)
        assert b.score_one(t, v) == s  # score_one + learn_one ≡ step, across gaps too
        b.learn_one(t, v)
        old = c.step(t, v)
        if i < 900 or 956 <= i < 1200 or i >= 1256:
            assert s == old  # outside the 56 values after each gap: the previous default
        if i == 905:  # a state saved inside the muted stretch restores it exactly
            copy = restore_detector("context", json.loads(json.dumps(a.state())))
    assert copy is not None
    assert [copy.step(t, v) for t, v in zip(times[906:], vals[906:], strict=True)] == got[906:]
    # the gaps change something: the rhythm's phase breaks across them
    e = ContextDetector(gaps=False)
    assert [s.score for s in got] != [e.step(t, v).score for t, v in zip(times, vals, strict=True)]


def test_a_state_saved_before_gaps_were_muted_restores_without_it() -> None:
    d = ContextDetector()
    for i, v in enumerate(_rhythm(50)):
        d.step(300.0 * i, v)
    st = json.loads(json.dumps(d.state()))
    assert st["gaps"][0] == 300.0 * 49
    st.pop("gaps")
    assert restore_detector("context", st).gaps is False


@pytest.mark.parametrize(("params", "bound"), [
    ({}, 5600),  # the default: three multiview members (~1,100 numbers each), a sequence model (~2,100)
    ({"block": 4}, 7700),  # and a second sequence model
    ({"block": 4, "halflife": 1000.0}, 5700),  # one multiview: the previous default
])
def test_state_is_bounded_and_round_trips(params: dict[str, float], bound: int) -> None:
    d = ContextDetector(**params)
    vals = _rhythm(20000, seed=3)
    sizes, arts = [], []
    for i, v in enumerate(vals):
        d.step(60.0 * i, v)
        if i in (5000, 19999):
            st = d.state()
            st.pop("art")  # packed: its categories as base64 text
            sizes.append(_leaves(st))
            art = d.art.state()
            arts.append((_leaves(art), len(art["art"]["w"])))
    assert sizes[0] == sizes[1] < bound  # numbers change, not their count
    # the adaptive-resonance judge: at most 256 categories of 32 bounds (and their use times),
    # 81 level counts, 8 levels, 54 + 108 recent similarities per clock factor (5: sampled every
    # minute, pipeline/anomaly/art_clock.py) and ~35 scalars
    for leaves, cats in arts:
        assert 0 < cats <= 256 and leaves <= 256 * 33 + 81 + 8 + (54 + 108) * 5 + 40
    copy = restore_detector("context", json.loads(json.dumps(d.state())))
    more = _rhythm(700, seed=9)
    assert ([d.step(60.0 * (20000 + i), v) for i, v in enumerate(more)]
            == [copy.step(60.0 * (20000 + i), v) for i, v in enumerate(more)])


def test_a_state_saved_before_the_view_choice_restores_all_five_views() -> None:
    """States saved by the previous default (no ``slow_views`` key: all five multiview views)
    restore as the five-view detector and score exactly as the detector that saved them."""
    d = ContextDetector(slow_views=True, art=False, halflife=1000.0, block=4, bin0=False)  # as states were then
    vals = _rhythm(3000, seed=4)
    for i, v in enumerate(vals[:2000]):
        d.step(60.0 * i, v)
    old = json.loads(json.dumps(d.state()))
    del old["mv"]["slow_views"], old["art"]
    copy = restore_detector("context", old)
    assert copy.mv.state()["slow_views"] is True
    assert ([d.step(60.0 * i, v) for i, v in enumerate(vals[2000:], 2000)]
            == [copy.step(60.0 * i, v) for i, v in enumerate(vals[2000:], 2000)])


def test_default_judges_spike_robust_shift_and_range_only() -> None:
    """The shift (histograms 2, 3) and drift (4, 5) views are not calibrated by default, by any
    member of the bag; with ``slow_views=True`` they are."""
    vals = _rhythm(1500, seed=5)
    lean, full = ContextDetector(), ContextDetector(slow_views=True)
    for i, v in enumerate(vals):
        lean.step(60.0 * i, v)
        full.step(60.0 * i, v)
    for lean_mv, full_mv in zip(lean.mv.state()["bag"], full.mv.state()["bag"], strict=True):
        lean_hist, full_hist = lean_mv["calib"]["hist"], full_mv["calib"]["hist"]
        assert all(sum(h) == 0.0 for h in lean_hist[2:6])
        assert all(sum(lean_hist[v]) > 0.0 for v in (0, 1, 6, 7, 8))
        assert all(sum(h) > 0.0 for h in full_hist[2:6])


def test_shift_drop_to_zero_and_spike_are_still_caught() -> None:
    """On Gaussian noise (level 40, σ 2, 5-minute points): a 10σ level shift alerts within 3
    points and once accepted stays quiet; a drop to zero and a single 40σ spike each alert at once;
    the noise itself alerts rarely (< 1 per 1,000 points)."""
    rng = random.Random(21)
    vals = [rng.gauss(40.0, 2.0) for _ in range(2000)] + [rng.gauss(60.0, 2.0) for _ in range(1500)]
    vals[3000] = 140.0
    vals += [0.0] * 5 + [rng.gauss(60.0, 2.0) for _ in range(300)]
    d = ContextDetector()
    scores = [d.step(300.0 * i, v).score for i, v in enumerate(vals)]
    alerts = [i for i, s in enumerate(scores) if s >= DEFAULT_THRESHOLD]
    assert any(2000 <= i <= 2003 for i in alerts)
    assert 3000 in alerts and 3500 in alerts
    assert len([i for i in alerts if 700 <= i < 2000]) <= 1
    assert len([i for i in alerts if 2100 <= i < 3000]) <= 1


def test_a_broken_rhythm_of_ordinary_values_is_caught() -> None:
    """Values stay in their usual range, only their order changes (6 low / 6 high becomes
    alternating): the sequence judge sees it, the residual views alone do not."""
    vals = _rhythm(3000)
    rng = random.Random(7)
    vals += [(10.0 if i % 2 == 0 else 30.0) + rng.gauss(0, 0.5) for i in range(60)]
    ctx = [s.score for s in (lambda d: [d.step(300.0 * i, v) for i, v in enumerate(vals)])(
        ContextDetector())]
    mv = [s.score for s in (lambda d: [d.step(300.0 * i, v) for i, v in enumerate(vals)])(
        MultiViewDetector())]
    assert max(ctx[3000:3012]) >= DEFAULT_THRESHOLD
    assert max(mv[3000:3060]) < DEFAULT_THRESHOLD
    assert sum(s >= DEFAULT_THRESHOLD for s in ctx[700:3000]) <= 2  # the rhythm itself is normal


def test_sequence_model_warm_up_and_edge_bins() -> None:
    m = SequenceModel(warmup=100, report_after=200)
    out = [m.surprise(float(i % 10)) for i in range(400)]
    assert out[:200] == [0.0] * 200 and m.lo < 0.0 < 9.0 < m.hi
    assert m._bin(-50.0) == 0 and m._bin(1e6) == m.bins - 1
    assert m.surprise(1e6) > 0.0  # a value above anything seen, after a regular cycle


def _nab_files(name: str) -> list[tuple[list[float], list[tuple[int, int]]]]:
    from pipeline.anomaly.series_io import read_series, run_detector

    return [([s.score for s in run_detector(read_series(path), name)], lab.windows)
            for lab, path in nab.labelled(NAB_CORPUS)]


@pytest.mark.slow
def test_nab_41_beats_published_rcf_and_multiview() -> None:
    """On the 41 NAB files with NAB's threshold optimisation: above Random Cut Forest's published
    49.83 / 36.72 / 58.02 on the same files (nab-corpus/README.md), and above multiview."""
    ctx, mv = _nab_files("context"), _nab_files("multiview")
    for prof, rcf in (("standard", 49.83), ("reward_low_FP", 36.72), ("reward_low_FN", 58.02)):
        c = nab.optimise_threshold(ctx, nab.PROFILES[prof])[1]
        m = nab.optimise_threshold(mv, nab.PROFILES[prof])[1]
        assert c > rcf + 10 and c > m, (prof, c, m)


@pytest.mark.slow
def test_nab_41_default_beats_the_previous_defaults_held_out_and_htm() -> None:
    """The default before gaps were muted (the previous default plus the adaptive-resonance judge
    read directly; the adopted gap muting and near-alert silence have their own tests) against
    the previous defaults on the 41 NAB files. Against the one before it (``art=False``): better on
    every profile with NAB's threshold optimisation, and by more than 2 points held out (thresholds
    from the other five groups) on standard and low-FN; held out on low-FP it is lower (60.88 vs
    62.30: with realAdExchange held out the other groups' threshold moves to 0.493 — README), and
    that loss stays under 2 points. Against the older ones (all five views; before that also no
    4-point judge and a 3,000-point half-life): better on every profile held out. And above
    Numenta HTM's published 68.94 / 62.19 / 73.48 on the same files. (All with one multiview and
    the 4-value judge, as they were: ``BAGLESS``; the bag and bin 0 have their own tests.)"""
    from benchmarks.nab_eval import BAGLESS, evaluate, run

    new = evaluate(run("context", {**BAGLESS, "gaps": False, "near": False}, NAB_CORPUS)[0])
    prev = evaluate(run("context", {**BAGLESS, "art": False, "gaps": False, "near": False}, NAB_CORPUS)[0])
    for prof in nab.PROFILES:
        assert new.overall[prof][1] > prev.overall[prof][1], (prof, new.overall[prof], prev.overall[prof])
    for prof in ("standard", "reward_low_FN"):
        assert new.logo[prof] > prev.logo[prof] + 2.0, (prof, new.logo[prof], prev.logo[prof])
    assert new.logo["reward_low_FP"] > prev.logo["reward_low_FP"] - 2.0
    for params in ({"slow_views": True}, {"block": 0, "judges": 2, "halflife": 3000.0, "slow_views": True}):
        old = evaluate(run("context", {**BAGLESS, **params, "art": False, "gaps": False, "near": False},
                           NAB_CORPUS)[0])
        for prof in nab.PROFILES:
            assert new.logo[prof] > old.logo[prof], (params, prof, new.logo[prof], old.logo[prof])
    for prof, htm in (("standard", 68.94), ("reward_low_FP", 62.19), ("reward_low_FN", 73.48)):
        assert new.overall[prof][1] > htm, (prof, new.overall[prof][1])


def test_calibrator_one_view_fast_path_equals_the_general_one() -> None:
    from pipeline.anomaly.calibrate import TailCalibrator

    rng = random.Random(11)
    a, b, c = (TailCalibrator(1, 50.0) for _ in range(3))  # short half-life: renormalises often
    for _ in range(30000):
        raw = rng.paretovariate(1.5) - 1.0 if rng.random() < 0.9 else 0.0
        bins: list[int] = []
        s_general = a.surprise([0], [raw], bins)
        s_fast, bin_fast = b.surprise1(raw)
        assert s_fast == s_general and bin_fast == bins[0]
        assert c.surprise_learn1(raw) == s_general  # score and learn in one call
        a.learn([0], [raw], bins)
        b.learn1(raw, bin_fast)
    assert a.state() == b.state() == c.state()


@pytest.mark.slow
def test_nab_41_muting_gaps_is_at_least_the_default_before_it() -> None:
    """The rule gap muting was adopted by (benchmarks/nab_gaps.py): chosen inside each fold
    against the default before it, its held-out score is at least that default's own on every
    profile — here, as it is picked in every fold, its own held-out and all-41 scores."""
    from benchmarks.nab_eval import evaluate, nested_logo, run

    new = run("context", {"near": False}, NAB_CORPUS)[0]
    old = run("context", {"gaps": False, "near": False}, NAB_CORPUS)[0]
    a, b = evaluate(new), evaluate(old)
    nested = nested_logo({"gaps": new, "gapless": old})
    for prof in nab.PROFILES:
        assert a.overall[prof][1] >= b.overall[prof][1] and a.logo[prof] >= b.logo[prof], prof
        assert nested[prof][0] >= b.logo[prof], (prof, nested[prof])


@pytest.mark.slow
def test_nab_41_the_near_alert_silence_is_at_least_the_default_before_it() -> None:
    """The rule the near-alert silence was adopted by, 3 points long (benchmarks/nab_debounce.py)
    and then 36 (benchmarks/nab_nearspan.py): chosen inside each fold against the default before
    it, its held-out score is at least that default's own on every profile; it is picked in every
    fold, so its own held-out and all-41 scores are too."""
    from benchmarks.nab_eval import evaluate, nested_logo, run

    runs = [run("context", params, NAB_CORPUS)[0] for params in ({}, {"near": 3}, {"near": 0})]
    for new, old in zip(runs, runs[1:]):
        a, b = evaluate(new), evaluate(old)
        nested = nested_logo({"new": new, "old": old})
        for prof in nab.PROFILES:
            assert a.overall[prof][1] > b.overall[prof][1] and a.logo[prof] > b.logo[prof], prof
            assert nested[prof][0] >= b.logo[prof], (prof, nested[prof])
