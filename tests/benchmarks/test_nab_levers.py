"""nab_levers: rescoring the recorded judges reproduces the detector; levers only ever add evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.nab_eval import BAGLESS
from benchmarks.nab_judges import cad_ose_rows, sequence_parts
from benchmarks.nab_levers import components, rescore
from pipeline.anomaly.context import ART_PEN, ContextDetector
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data"


@pytest.fixture(scope="module")
def comps():
    # a real series with a labelled failure, a repeated-timestamp stretch and spikes
    return components(NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv")


def test_no_lever_is_the_detectors_own_score_bit_for_bit(comps) -> None:
    assert rescore(comps) == comps.scores  # the judges S and Q: the context detector without ART
    assert max(comps.scores) >= 0.5  # the file's failure is alerted: the comparison is not all zeros


def test_the_art_direct_lever_is_the_default_detector_bit_for_bit(comps) -> None:
    """The default ``context`` (until gaps were muted) adds the adaptive-resonance judge read
    directly (its confidence ``o`` as ``3o / (1 − o)`` less ``log10 4``): exactly the
    ``art_direct`` lever."""
    sf = read_series(NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    det = ContextDetector(gaps=False, near=False, **BAGLESS)  # BAGLESS: no run judge
    own = [0.0] * len(sf.values)
    for i in sf.order:
        own[i] = det.step(sf.times[i], sf.values[i]).score
    assert rescore(comps, lever="art_direct", pen=ART_PEN) == own
    assert own != comps.scores  # the judge does change scores on this file


@pytest.mark.parametrize("lever", ["ew", "cusum", "sr", "dspot", "art", "art_direct", "cad", "ose"])
def test_a_lever_is_one_more_judge(comps, lever: str) -> None:
    base, more = rescore(comps), rescore(comps, lever=lever)
    # before the first alert nothing is silenced, so the extra judge can only raise a score
    first = next(i for i, v in enumerate(base) if v >= 0.5)
    assert all(m >= b for b, m in zip(base[:first], more[:first], strict=True))
    assert any(m > b for b, m in zip(base, more, strict=True))


def test_spot_keeps_the_default_until_its_initial_batch_then_recalibrates(comps) -> None:
    base, spot = rescore(comps), rescore(comps, lever="spot")
    assert spot[:1000] == base[:1000]  # SPOT's first 1,000 values only fix its threshold
    assert spot[1000:] != base[1000:]


def test_the_recorded_sr_judge_is_the_spectral_detectors_score(comps) -> None:
    from pipeline.anomaly.series_io import read_series
    from pipeline.anomaly.spectral import SpectralDetector

    sf = read_series(NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    det = SpectralDetector()
    own = [0.0] * len(sf.values)
    for i in sf.order:
        own[i] = det.step(sf.times[i], sf.values[i]).score
    assert rescore(comps, lever="sr_alone") == pytest.approx(own, abs=1e-9)


def test_the_recorded_art_judge_is_the_art_detectors_score(comps) -> None:
    from pipeline.anomaly.art import ArtDetector
    from pipeline.anomaly.series_io import read_series

    sf = read_series(NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    det = ArtDetector()
    own = [0.0] * len(sf.values)
    for i in sf.order:
        own[i] = det.step(sf.times[i], sf.values[i]).score
    assert rescore(comps, lever="art_alone") == own
    assert max(own) > 0  # ART does report on this file: the comparison is not all zeros


def test_the_sequence_judges_apart_make_the_recorded_one(comps) -> None:
    import numpy as np

    qs, qb = sequence_parts(comps)  # checks max(qs, qb) == the recorded q itself
    closes = np.flatnonzero(~np.isnan(qb))
    assert len(closes) == int(comps.present.sum()) // 4  # a block of 4 values closes every 4th
    assert (qs[comps.present] <= comps.q[comps.present]).all()


def test_replacing_both_sequence_judges_leaves_multiviews_judge(comps) -> None:
    import dataclasses

    import numpy as np

    alone = dataclasses.replace(comps, q=np.full(len(comps.q), -1e9))
    assert rescore(comps, replace="both") == rescore(alone)
    assert rescore(comps, replace="both") != rescore(comps)


def test_the_recorded_cad_ose_judge_is_cad_oses_reported_score(comps) -> None:
    import numpy as np

    from pipeline.anomaly.cad_ose import cad_ose_scores

    rows = [i for i in comps.order if comps.present[i]] if comps.order else np.flatnonzero(comps.present)
    xs = comps.x[rows]
    _, out = cad_ose_scores(xs, float(xs.min()), float(xs.max()), rest=min(int(0.15 * len(comps.s)), 750) / 5)
    got = rescore(comps, lever="ose_alone", cad={"range": "file", "rest": "file"})
    assert [got[i] for i in rows] == out.tolist()
    assert max(out) > 0.5
    raw, _ = cad_ose_rows(comps)  # streaming: the first 300 values fix the range and score 0
    assert not raw[rows[:300]].any() and raw[rows[300:]].any()


def test_dropping_the_block_judge_is_the_detector_without_it(comps) -> None:
    """The ``"block"`` ablation is the sequence judge of ``ContextDetector(block=0, judges=2,
    art=False, halflife=1000)``, except that it keeps the ``log10 3`` correction (a detector
    without the block judge used ``log10 2`` then): checked by recording that detector's own judge."""
    import dataclasses
    import math

    import numpy as np

    sf = read_series(NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    det = ContextDetector(block=0, judges=2, art=False, halflife=1000.0)
    q = np.full(len(sf.values), -1e9)
    for i in sf.order:
        x = sf.values[i]
        if x is not None:
            q[i] = det.seq.surprise(x, learn=False) - math.log10(3.0)
        det.step(sf.times[i], x)
    assert det.judges == math.log10(2.0) and (q[comps.present] > 0).any()
    assert rescore(comps, replace="block") == rescore(dataclasses.replace(comps, q=q))
    assert rescore(comps, replace="block") != rescore(comps)


def test_escalation_silences_all_but_higher_scores_until_its_end(comps) -> None:
    base = rescore(comps, lever="art_direct", pen=ART_PEN)
    esc = rescore(comps, lever="art_direct", pen=ART_PEN, escalate=144)
    assert esc != base
    # the unsilenced score of every row (no silence at all), to read the rule off it
    full = rescore(comps, lever="art_direct", pen=ART_PEN, refractory=0)
    last, since = 0.0, 1 << 30
    for i in [i for i in range(len(full)) if comps.present[i]]:
        if since < 36 or (since < 144 and full[i] <= last):
            assert esc[i] == full[i] * 0.5
            since += 1
        else:
            assert esc[i] == full[i]
            last, since = (full[i], 1) if full[i] >= 0.5 else (last, since + 1)
