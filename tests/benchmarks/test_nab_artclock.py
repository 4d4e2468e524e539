"""nab_artclock: the variant is today's default and the family's "default" kind the one before it;
at 1 minute they differ, from 5 minutes up they agree."""

from __future__ import annotations

from benchmarks.nab_artclock import BEFORE, MINUTE_SEEDS, artclock_scores
from benchmarks.nab_density import MINUTE_SEEDS as DENSITY_SEEDS
from benchmarks.nab_density import minute_corpus
from benchmarks.nab_eval import context_scores


def test_clock_is_the_default_and_before_counts_in_values() -> None:
    s = minute_corpus(range(23_720, 23_721))[0]
    times, values = [t.timestamp() for t in s.timestamps], s.values
    # both kinds without the later run judge (benchmarks/nab_runs.py), so the recorded numbers reproduce
    assert artclock_scores(times, values, "clock") == context_scores(times, values, runs=False)
    assert BEFORE(times, values) == context_scores(times, values, art_clock=False, runs=False)
    assert BEFORE(times, values) != artclock_scores(times, values, "clock")
    five = times[::5], values[::5]  # the same series every 5 minutes: the clock changes nothing
    assert BEFORE(*five) == artclock_scores(*five, "clock")


def test_its_labelled_series_were_never_used_by_an_earlier_family() -> None:
    from benchmarks.nab_artrate import MINUTE_SEEDS as ARTRATE_SEEDS

    assert not set(MINUTE_SEEDS) & (set(DENSITY_SEEDS) | set(ARTRATE_SEEDS))
