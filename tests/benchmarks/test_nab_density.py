"""nab_density: the labelled 1-minute shapes span the same days as the 5-minute ones; the variant is
the default it was adopted into and the family's "default" kind the one before it."""

from __future__ import annotations

from benchmarks.anomaly_synth import heldout_corpus
from benchmarks.nab_density import BEFORE, density_scores, minute_corpus
from benchmarks.nab_eval import context_scores


def test_the_minute_corpus_is_the_held_out_shapes_every_minute() -> None:
    minute, five = minute_corpus(range(23_600, 23_603)), heldout_corpus(range(23_600, 23_603))
    for m, f in zip(minute, five, strict=True):
        assert m.kind == f.kind and len(m.values) == 5 * len(f.values)
        assert {(b - a).total_seconds() for a, b in zip(m.timestamps, m.timestamps[1:])} == {60.0}
        span = (m.timestamps[-1] - m.timestamps[0]).total_seconds()
        assert abs(span - (f.timestamps[-1] - f.timestamps[0]).total_seconds()) <= 300.0
        assert all(0.15 * len(m.values) <= o < len(m.values) for o in m.onsets)
    from benchmarks import anomaly_synth
    assert (anomaly_synth.STEP, anomaly_synth.DAY) == (300, 288)  # restored after generating


def test_density_is_the_default_it_was_adopted_into_and_before_is_per_point() -> None:
    s = minute_corpus(range(23_600, 23_601))[0]
    times, values = [t.timestamp() for t in s.timestamps], s.values
    # both kinds without the later art_clock and run judge (benchmarks/nab_artclock.py, nab_runs.py),
    # so the recorded numbers reproduce
    assert density_scores(times, values, "density") == context_scores(times, values, art_clock=False, runs=False)
    assert BEFORE(times, values) == context_scores(times, values, density=False, art_clock=False, runs=False)
    assert BEFORE(times, values) != density_scores(times, values, "density")
