"""nab_dtcap: its "default" kind is today's default bit for bit; cap4 changes the scores only of
files with a gap of more than 4 running intervals."""

from __future__ import annotations

from benchmarks.nab_dtcap import BEFORE, CappedIntervalModel, dtcap_scores
from benchmarks.nab_eval import CORPUS, file_scores

GAPPY = CORPUS / "data" / "realKnownCause" / "ambient_temperature_system_failure.csv"
REGULAR = CORPUS / "data" / "artificialWithAnomaly" / "art_daily_jumpsup.csv"


def test_the_default_kind_is_the_default_and_cap4_moves_only_gappy_files() -> None:
    before = file_scores(GAPPY, BEFORE)
    assert file_scores(GAPPY, dtcap_scores, "default") == before
    assert file_scores(GAPPY, dtcap_scores, "cap4") != before
    assert file_scores(REGULAR, dtcap_scores, "cap4") == file_scores(REGULAR, BEFORE)


def test_a_gap_counts_four_intervals() -> None:
    m = CappedIntervalModel(warmup=30)
    for i in range(100):
        m.learn(300.0 * i, 1.0)
    assert m.dt == 300.0
    m.learn(300.0 * 99 + 86400.0, 1.0)  # a day's gap: as if 1,200 s
    assert m.dt == 300.0 + 0.05 * (1200.0 - 300.0) and m.tl == 300.0 * 99 + 86400.0
