"""Leave-one-group-out scoring on a two-group corpus whose numbers are worked out by hand."""

from __future__ import annotations

import pytest

from benchmarks.nab import Labelled
from benchmarks.nab_eval import Scored, diagnose, evaluate, nested_logo


def _file(group: str, hits: dict[int, float]) -> Scored:
    scores = [0.0] * 100
    for i, s in hits.items():
        scores[i] = s
    return Scored(Labelled(f"{group}/f.csv", 100, [(40, 49)], group), scores)


def test_logo_takes_each_threshold_from_the_other_group() -> None:
    # g1: 0.9 at the window's left edge (+1), 0.6 at row 80 — 31 rows past a 10-row window,
    # y = 31/9 ≥ 3, so an FP worth −0.11; g2: 0.6 at the left edge.
    rep = evaluate([_file("g1", {40: 0.9, 80: 0.6}), _file("g2", {40: 0.6})])
    # all files: threshold 0.6 → 1 − 0.11 + 1 = 1.89; null −2, perfect 2 → 100·3.89/4
    assert rep.overall["standard"] == (0.6, pytest.approx(97.25))
    # g1 held out: g2 alone picks 0.6 → g1 scores 0.89; g2 held out: g1 alone prefers 0.9
    # (1.0 > 0.89) → g2 misses its window, −1. Held out: 100·(−0.11 + 2)/4
    assert rep.logo_groups["standard"]["g1"][0] == 0.6
    assert rep.logo_groups["standard"]["g2"][0] == 0.9
    assert rep.logo["standard"] == pytest.approx(47.25)
    # per group at the all-files threshold 0.6: g1 100·(0.89 + 1)/2, g2 a perfect 100
    assert rep.groups["standard"] == {"g1": pytest.approx(94.5), "g2": pytest.approx(100.0)}


def test_nested_logo_picks_the_variant_inside_each_fold() -> None:
    # variant A: g1 has an FP (0.95, row 80) above its hit (0.9, row 40), g2 a hit at 0.6;
    # variant B: a hit at 0.6 in both groups.
    a = [_file("g1", {40: 0.9, 80: 0.95}), _file("g2", {40: 0.6})]
    b = [_file("g1", {40: 0.6}), _file("g2", {40: 0.6})]
    res = nested_logo({"A": a, "B": b})
    # g1 held out: on g2 both score 100 at 0.6 → the first (A); g1 with A at 0.6 detects both
    # rows: 1 − 0.11. g2 held out: on g1 A is 100·(0.89 + 1)/2 = 94.5 at 0.9, B a perfect 100 at
    # 0.6 → B; g2 with B at 0.6: +1. Pooled: 100·(0.89 + 1 + 2)/4.
    assert res["standard"] == (pytest.approx(97.25), ["A", "B"])
    # plain leave-one-group-out of A alone: g2 at g1's threshold 0.9 misses → 100·(0.89 − 1 + 2)/4
    assert evaluate(a).logo["standard"] == pytest.approx(47.25)


def test_diagnose_counts_where_detections_fall() -> None:
    # 100 rows, window rows 40–49, probation min(15, 750) = 15 rows; threshold 0.5.
    # g1: evidence 0.3 at row 42, detection 0.6 at row 44 (4/10 into the window), an FP 0.7 at
    # row 80 and 0.3 at row 20 (outside, under the threshold); g2: only 0.45 in its window.
    d = diagnose([_file("g1", {20: 0.3, 42: 0.3, 44: 0.6, 80: 0.7}), _file("g2", {45: 0.45})], 0.5)
    assert d.per_group == {"g1": (1, 1, 0), "g2": (0, 0, 1)}
    assert d.positions == [pytest.approx(0.4)]
    assert d.early_rate == pytest.approx(1 / 4)        # rows 40–43, one ≥ 0.25 (row 42)
    # outside rows after probation: 15–39 and 50–99 in each file (150); ≥ 0.25: rows 20 and 80 of g1
    assert d.outside_rate == pytest.approx(2 / 150)
    assert d.missed == [("g2/f.csv", 40, 49, 45, pytest.approx(0.45))]
