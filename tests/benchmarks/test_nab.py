"""NAB scorer against hand-computed cases (numbers worked out on paper from NAB's rules) and against
the published Numenta HTM scores on the 41 vendored NAB files."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from benchmarks import nab

NAB_CORPUS = Path(__file__).resolve().parents[1] / "data" / "nab-corpus"

# σ(y) = 2/(1+e^(5y)) − 1, computed by hand:
SIG_M1 = 0.986614   # y = −1:    e^−5 = 0.0067379 → 2/1.0067379 − 1
SIG_M05 = 0.848283  # y = −0.5:  e^−2.5 = 0.0820850 → 2/1.0820850 − 1
SIG_P0556 = -0.882929  # y = 5/9: e^2.7778 = 16.0836 → 2/17.0836 − 1


def _scores(n: int, hits: list[int], value: float = 0.9) -> list[float]:
    s = [0.0] * n
    for i in hits:
        s[i] = value
    return s


def test_sigmoid_and_probation() -> None:
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(SIG_M1, abs=1e-6)
    assert nab.scaled_sigmoid(-0.5) == pytest.approx(SIG_M05, abs=1e-6)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(3.0) == -1.0  # NAB: y ≥ 3 → −1
    assert nab.scaled_sigmoid(2.99) == pytest.approx(2 / (1 + 2.718281828 ** 14.95) - 1)
    assert nab.probation_rows(100) == 15
    assert nab.probation_rows(4032) == 604
    assert nab.probation_rows(18050) == 750


def test_detection_at_left_edge_is_perfect() -> None:
    r = nab.score_file(_scores(100, [40]), [(40, 49)], 0.5)
    assert (r.tp, r.fp, r.fn) == (1, 0, 0)
    assert r.raw == pytest.approx(1.0)
    assert nab.normalised([r]) == pytest.approx(100.0)


def test_mid_window_detection_and_later_ones_ignored() -> None:
    r = nab.score_file(_scores(100, [45, 46, 49]), [(40, 49)], 0.5)
    assert r.tp == 1 and r.fp == 0
    assert r.raw == pytest.approx(SIG_M05 / SIG_M1, abs=1e-5)  # 0.859795
    # normalised: 100 · (0.859795 + 1) / 2
    assert nab.normalised([r]) == pytest.approx(92.98975, abs=1e-3)


def test_false_positives_before_and_after_a_window() -> None:
    # row 20: before any window → −0.11; row 54: 5 rows past a 10-row window, y = 5/9
    r = nab.score_file(_scores(100, [10, 20, 54]), [(40, 49)], 0.5)
    assert (r.tp, r.fp, r.fn) == (0, 2, 1)  # row 10 is in the 15-row probation: ignored
    assert r.raw == pytest.approx(-0.11 + 0.11 * SIG_P0556 - 1.0, abs=1e-5)
    far = nab.score_file(_scores(100, [90]), [(40, 49)], 0.5)  # 41 rows past: y > 3 → −1
    assert far.raw == pytest.approx(-0.11 - 1.0)



def test_paired_difference_and_its_standard_error_by_hand() -> None:
    # three files, one window each; the base detector finds all three at the left edge (raw 1
    # each), the other misses the third (raw −1): per-file differences 0, 0, −2 raw, over the
    # shared Σperfect − Σnull = 3 − (−3) = 6 → 0, 0, −33.33 points; sum −33.33; sample deviation
    # √(((11.11)² · 2 + 22.22²) / 2) = 19.245, × √3 = 33.33
    win = [(40, 49)]
    base = [(_scores(100, [40]), win) for _ in range(3)]
    other = [*base[:2], (_scores(100, []), win)]
    diff, se = nab.paired_difference(base, other)
    assert diff == pytest.approx(-100.0 / 3, abs=1e-9)
    assert se == pytest.approx(100.0 / 3, abs=1e-9)
    assert nab.paired_difference(base, base) == (0.0, 0.0)

def test_threshold_profiles_and_corpus_normalisation() -> None:
    s = _scores(200, [60, 150])
    s[60] = 0.4
    wins = [(60, 69), (140, 159)]
    at_05 = nab.score_file(s, wins, 0.5)
    assert (at_05.tp, at_05.fn) == (1, 1)
    # row 150 in a 20-row window: y = −(159 − 150 + 1)/20 = −0.5
    assert at_05.raw == pytest.approx(SIG_M05 / SIG_M1 - 1.0, abs=1e-5)
    low_fn = nab.score_file(s, wins, 0.5, nab.PROFILES["reward_low_FN"])
    assert low_fn.raw == pytest.approx(SIG_M05 / SIG_M1 - 2.0, abs=1e-5)
    assert low_fn.null == -4.0 and low_fn.perfect == 2.0
    both = nab.score_file(s, wins, 0.3)
    assert both.raw == pytest.approx(1.0 + SIG_M05 / SIG_M1, abs=1e-5)
    # corpus: Σraw = (0.859795 − 1) + (1 + 0.859795) = 1.71959, Σnull = −4, Σperfect = 4
    assert nab.normalised([at_05, both]) == pytest.approx(100 * (1.71959 + 4) / 8, abs=1e-3)
    thr, best = nab.optimise_threshold([(s, wins)])
    assert thr == 0.4 and best == pytest.approx(nab.normalised([both]))


def test_window_rows_and_loading(tmp_path) -> None:
    t0 = datetime(2014, 3, 14)
    ts = [t0 + timedelta(minutes=5 * i) for i in range(20)]
    assert nab.window_rows(ts, [(ts[3], ts[7])]) == [(3, 7)]
    p = tmp_path / "windows.json"
    p.write_text('{"g/f.csv": [["2014-03-14 00:15:00.000000", "2014-03-14 00:35:00.000000"]]}')
    assert nab.load_windows(p) == {"g/f.csv": [(ts[3], ts[7])], "f.csv": [(ts[3], ts[7])]}
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(nab.InputError, match="bad.json"):
        nab.load_windows(bad)


def test_window_in_probation_is_not_scored_but_counts_as_perfect() -> None:
    # 100 rows → 15 rows of probation; window (2, 8) lies inside it, window (40, 49) does not
    r = nab.score_file(_scores(100, [5, 40]), [(2, 8), (40, 49)], 0.5)
    assert (r.tp, r.fn) == (1, 0) and r.null == -1.0 and r.perfect == 2.0
    assert r.raw == pytest.approx(1.0)
    assert nab.normalised([r]) == pytest.approx(100 * 2 / 3)


def test_window_rows_follow_nab_on_a_clock_jump() -> None:
    t0 = datetime(2014, 1, 7)
    ts = [t0 + timedelta(minutes=5 * i) for i in range(10)]
    ts += [t0 + timedelta(minutes=5 * i) for i in range(4, 12)]  # the clock goes back 25 minutes
    # NAB matches the window edges to the first row carrying each timestamp
    assert nab.window_rows(ts, [(ts[2], ts[6])]) == [(2, 6)]
    assert nab.window_rows(ts, [(ts[8], ts[17])]) == [(8, 17)]


def test_sweep_matches_scoring_at_every_threshold() -> None:
    """The one-pass sweep and the per-threshold scorer are two implementations: they must agree."""
    rng = random.Random(5)
    files = []
    for n in (300, 517, 1200):
        scores = [round(rng.random(), 2) for _ in range(n)]
        w0 = rng.randrange(n // 5, n // 2)
        files.append((scores, [(w0, w0 + 20), (w0 + 60, w0 + 75)]))
    for prof in nab.PROFILES.values():
        thresholds, raw, null, perfect = nab.sweep(files, prof)
        for thr, r in zip(thresholds[1:], raw[1:], strict=True):
            parts = [nab.score_file(s, w, thr, prof) for s, w in files]
            assert r == pytest.approx(sum(p.raw for p in parts), abs=1e-9)
            assert null == sum(p.null for p in parts) and perfect == sum(p.perfect for p in parts)
        best = max(nab.corpus_score(files, t, prof) for t in thresholds)
        assert nab.optimise_threshold(files, prof)[1] == pytest.approx(best)


def test_reproduces_numenta_htm_on_the_41_files() -> None:
    """NAB's published HTM scores on these 41 files (nab-corpus/README.md): 68.94 / 62.19 / 73.48."""
    files = []
    for lab, _ in nab.labelled(NAB_CORPUS):
        group, name = lab.name.split("/")
        res = NAB_CORPUS / "results" / "numenta" / group / f"numenta_{name}.gz"
        scores = [float(x) for x in nab.read_column(res, "anomaly_score")]
        assert len(scores) == lab.n
        files.append((scores, lab.windows))
    assert len(files) == 41 and sum(len(w) for _, w in files) == 86
    got = {p: round(nab.optimise_threshold(files, nab.PROFILES[p])[1], 2) for p in nab.PROFILES}
    assert got == {"standard": 68.94, "reward_low_FP": 62.19, "reward_low_FN": 73.48}
