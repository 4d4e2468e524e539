"""The adaptive-resonance judge (pipeline/anomaly/art.py, fuzzy_art.py): fuzzy-ART similarity, dual
vigilance and the feature pipeline worked by hand; causality, bounded memory and state round trips on real data."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from pipeline.anomaly import make_detector, restore_detector
from pipeline.anomaly.art import ArtDetector, ArtJudge, art_scores
from pipeline.anomaly.fuzzy_art import (
    DualVigilanceArt,
    complement,
    confidence,
    cosine,
    haar,
    similarity,
    typicality_sums,
    window_features,
)
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"
R2 = math.sqrt(2.0)


def test_complement_code_by_hand() -> None:
    assert complement([0.2, 0.4]).tolist() == pytest.approx([0.2, 0.4, 0.8, 0.6])


def test_similarity_of_two_inputs_to_two_categories_by_hand() -> None:
    w = np.array([complement([0.2, 0.4]), complement([0.6, 0.8])])  # |w| = 2 each
    # x = (0.3, 0.4): x ∧ w1 = (0.2, 0.4, 0.7, 0.6), |·| = 1.9 → F = 0.95; the last feature 0.4
    # lies in w1's range → E = (0.4 + 0.6) / (0.4 + 0.6) = 1; M = 0.95³
    # x ∧ w2 = (0.3, 0.4, 0.4, 0.2) = 1.3 → F = 0.65; E = (0.4 + 0.2) / (0.8 + 0.2) = 0.6
    m, e = similarity(complement([0.3, 0.4]), w)
    assert m.tolist() == pytest.approx([0.95 ** 3, 0.65 ** 3 * 0.36])
    assert e.tolist() == pytest.approx([1.0, 0.6])
    # x = (0.2, 0.9): x ∧ w1 = (0.2, 0.4, 0.8, 0.1) = 1.5 → F = 0.75, E = (0.4 + 0.1) / 1 = 0.5;
    # x ∧ w2 = (0.2, 0.8, 0.4, 0.1) = 1.5 → F = 0.75, E = (0.8 + 0.1) / (0.8 + 0.2) = 0.9
    m, e = similarity(complement([0.2, 0.9]), w)
    assert m.tolist() == pytest.approx([0.75 ** 3 * 0.25, 0.75 ** 3 * 0.81])
    assert e.tolist() == pytest.approx([0.5, 0.9])
    # a category whose bounds cover everything (|w| = 0) matches fully
    m, e = similarity(complement([0.3, 0.7]), np.zeros((1, 4)))
    assert m.tolist() == [1.0] and e.tolist() == [1.0]


def test_dual_vigilance_resonance_variant_and_mismatch_by_hand() -> None:
    art = DualVigilanceArt(4, cap=8, rho_lb=0.5, rho_ub=0.8)
    assert art.present(complement([0.2, 0.4])) == (True, 0.0, 0.0)  # nothing known: a mismatch
    assert art.n == 1
    # (0.3, 0.4): M = 0.95³ = 0.857 ≥ ρ_ub → resonance, the box grows to [0.2, 0.3] × [0.4, 0.4]
    mismatch, s, e = art.present(complement([0.3, 0.4]))
    assert (mismatch, s, e) == (False, pytest.approx(0.857375), pytest.approx(1.0))
    assert art.w[0].tolist() == pytest.approx([0.2, 0.4, 0.7, 0.6]) and art.n == 1
    # (0.0, 0.45): x ∧ w = (0, 0.4, 0.7, 0.55) = 1.65 of |w| = 1.9; E = (0.4 + 0.55) / 1 = 0.95;
    # M = (1.65/1.9)³ · 0.95² = 0.591: between the bounds → a new category, not a mismatch
    mismatch, s, e = art.present(complement([0.0, 0.45]))
    assert (mismatch, s, e) == (False, pytest.approx((1.65 / 1.9) ** 3 * 0.9025), pytest.approx(0.95))
    assert art.n == 2 and art.w[0].tolist() == pytest.approx([0.2, 0.4, 0.7, 0.6])
    # (0.9, 0.0): against w1: (0.2, 0, 0.1, 0.6) = 0.9 → F = 0.474, E = 0.6; against the new
    # (0, 0.45, 1, 0.55): (0, 0, 0.1, 0.55) = 0.65 → F = 0.325, E = 0.55 — both below ρ_lb
    mismatch, s, e = art.present(complement([0.9, 0.0]))
    assert mismatch and s == pytest.approx((0.9 / 1.9) ** 3 * 0.36) and e == pytest.approx(0.6)
    assert art.n == 3


def test_the_oldest_unused_category_is_replaced_at_the_cap() -> None:
    art = DualVigilanceArt(4, cap=2, rho_lb=0.99, rho_ub=0.99)
    art.present(complement([0.1, 0.1]))
    art.present(complement([0.9, 0.9]))
    art.present(complement([0.1, 0.1]))  # resonates (M = 1): category 0 is the recent one
    art.present(complement([0.5, 0.5]))  # a third pattern replaces category 1
    assert art.n == 2
    assert art.w[0].tolist() == pytest.approx([0.1, 0.1, 0.9, 0.9])
    assert art.w[1].tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_remapping_a_category_equals_learning_in_the_new_range() -> None:
    # two inputs (shape 0.5, level 0.2 / 0.4) merged into one box; the range widens so that the
    # level f becomes 0.5·f + 0.25: the box must be the one learnt from (0.35, 0.45) directly
    a = DualVigilanceArt(4, rho_lb=0.0, rho_ub=0.0)
    a.present(complement([0.5, 0.2]))
    a.present(complement([0.5, 0.4]))
    a.remap(1, 2, 0.5, 0.25)
    b = DualVigilanceArt(4, rho_lb=0.0, rho_ub=0.0)
    b.present(complement([0.5, 0.35]))
    b.present(complement([0.5, 0.45]))
    assert a.n == b.n == 1 and a.w[0].tolist() == pytest.approx(b.w[0].tolist())


def test_haar_by_hand_and_energy_is_kept() -> None:
    # (4, 2, 6, 6): sums (6, 12)/√2, details (2, 0)/√2; then (18/2, (6 − 12)/2) = (9, −3)
    assert haar([4.0, 2.0, 6.0, 6.0]) == pytest.approx([9.0, -3.0, R2, 0.0])
    rng = random.Random(5)
    v = [rng.uniform(-1, 1) for _ in range(8)]
    assert sum(c * c for c in haar(v)) == pytest.approx(sum(x * x for x in v))  # orthonormal


def test_window_features_by_hand() -> None:
    # a flat window has no shape: zeros, then the levels
    assert window_features([0.5] * 4).tolist() == [0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5]
    # a step (0, 0, 1, 1): Haar (1, −1, 0, 0), scaled to [0, 1]: (1, 0, 0.5, 0.5)
    assert window_features([0.0, 0.0, 1.0, 1.0]).tolist() == pytest.approx([1, 0, 0.5, 0.5, 0, 0, 1, 1])


def test_confidence_by_hand() -> None:
    # s = 0.6, ρ = (0.8, 0.85): 0.35·0.25/0.4 + 0.65·0.2/0.4 = 0.54375; E = 0.9 adds 1.5·0.1
    assert confidence(0.6, 1.0, 0.8, 0.85) == pytest.approx(0.54375)
    assert confidence(0.6, 0.9, 0.8, 0.85) == pytest.approx(0.69375)
    assert confidence(0.6, 0.5, 0.8, 0.85) == 1.0


def test_cosine_by_hand() -> None:
    c = cosine(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    h = 1 / R2
    assert np.allclose(c, [[1, 0, h], [0, 1, h], [h, h, 1]])


def test_typicality_sums_by_hand_and_against_the_matrix() -> None:
    # rows (1, 0), (0, 1), (1, 1) and a zero row: the cosine matrix's column sums worked by hand —
    # a zero row is as similar to r as 1 − |r|, and every row is 1 to itself
    h = 1 / R2
    want = [1 + 0 + h + 0, 0 + 1 + h + 0, h + h + 1 + (1 - R2), 0 + 0 + (1 - R2) + 1]
    got = typicality_sums(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]))
    assert np.allclose(got, want, rtol=0, atol=1e-12)
    rng = np.random.default_rng(5)
    feats = rng.random((600, 16))
    feats[::50] = 0.0
    assert np.allclose(typicality_sums(feats), cosine(feats).sum(axis=0), rtol=1e-12, atol=1e-9)


def test_block_arithmetic_of_the_default_parameters() -> None:
    j = ArtJudge()
    assert (j.step, j.trend, j.mask) == (7, 107, 12)  # 750 // (8 · 13); 750 // 7; 1.5 · 8
    out = art_scores([float(i % 5) for i in range(100)])
    judged = np.flatnonzero(~np.isnan(out))
    assert judged.tolist() == list(range(6, 100, 7))  # the 7th, 14th, … value closes a block
    with pytest.raises(ValueError, match="power of two"):
        ArtJudge(window=6)


@pytest.fixture(scope="module")
def ec2() -> tuple[list[float], list[float | None]]:
    sf = read_series(NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    return [sf.times[i] for i in sf.order], [sf.values[i] for i in sf.order]


def test_scores_are_causal_and_states_restore_exactly(ec2) -> None:
    times, values = ec2
    full = art_scores(values)
    half = len(values) // 2
    assert np.array_equal(art_scores(values[:half]), full[:half], equal_nan=True)  # no look ahead
    det = make_detector("art")
    first = [det.step(t, x).score for t, x in zip(times[:half], values[:half], strict=True)]
    again = restore_detector("art", json.loads(json.dumps(det.state())))
    rest = [again.step(t, x).score for t, x in zip(times[half:], values[half:], strict=True)]
    assert first + rest == np.nan_to_num(full).tolist()
    # score_one judges without learning: the state is unchanged and the score is step's
    before = json.dumps(again.state())
    probe = again.score_one(times[-1] + 60, 5 * max(v for v in values if v is not None))
    assert json.dumps(again.state()) == before
    assert probe == again.step(times[-1] + 60, 5 * max(v for v in values if v is not None))


def test_the_probation_is_silent_and_an_anomaly_is_found_after_it(ec2) -> None:
    _, values = ec2
    out = np.nan_to_num(art_scores(values))
    assert out[:749].max() == 0.0  # the 107 probation blocks
    assert (out > 0).sum() >= 1 and (out > 0).sum() < 0.05 * len(out) / 7


def test_memory_is_bounded_by_the_category_cap() -> None:
    rng = random.Random(11)
    j = ArtJudge(max_categories=16)
    for _ in range(20_000):
        j.push(rng.expovariate(1.0))
    assert j.art.n == 16 and j.art.w.shape == (16, 32)
    assert len(json.dumps(j.state())) < 20_000  # no growing history


def test_widening_the_range_keeps_judging_in_range(ec2) -> None:
    values = [v for v in ec2[1] if v is not None]
    j = ArtJudge()
    for x in values[:1000]:
        j.push(x)
    lo, hi = j.lo, j.hi
    j.push(hi + 10 * (hi - lo))  # far above anything seen: the range widens
    for _ in range(6):
        j.push(values[1000])
    assert j.hi == hi + 10 * (hi - lo) and j.lo == lo
    w = j.art.w[:j.art.n]
    assert w.min() >= -1e-12 and w.max() <= 1 + 1e-12
    assert all(0.0 <= v <= 1.0 for v in j.fwin)


def test_detector_contract() -> None:
    det = make_detector("art")
    assert isinstance(det, ArtDetector) and det.name == "art"
    assert det.step(0.0, None).warm is False and det.step(1.0, math.nan).score == 0.0
    assert det.judge.n == 0  # missing values are not counted


def test_margin_and_a_range_given_in_advance() -> None:
    values = [float(i % 11) for i in range(749)]  # 0..10; the probation's 107 blocks end at 749
    j = ArtJudge(margin=1.0)
    for x in values:
        j.push(x)
    assert j.warm and (j.lo, j.hi) == (-10.0, 20.0)  # one span of 10 added on each side
    k = ArtJudge(value_range=(-5.0, 50.0))
    for x in values:
        k.push(x)
    assert (k.lo, k.hi) == (-5.0, 50.0)
    assert ArtDetector(margin=0.5).judge.margin == 0.5  # not truncated to an integer
