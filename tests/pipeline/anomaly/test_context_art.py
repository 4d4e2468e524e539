"""The ``context`` detector's adaptive-resonance judge: what it finds that the other judges miss,
on NAB's labelled files, and how states saved without it restore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import nab
from pipeline.anomaly import DEFAULT_THRESHOLD, restore_detector
from pipeline.anomaly.context import ContextDetector
from pipeline.anomaly.series_io import read_series

NAB_CORPUS = Path(__file__).resolve().parents[2] / "data" / "nab-corpus"


def _scores(path: Path, **params: bool) -> list[float]:
    sf = read_series(path)
    det = ContextDetector(**params)
    out = [0.0] * len(sf.values)
    for i in sf.order:
        out[i] = det.step(sf.times[i], sf.values[i]).score
    return out


@pytest.mark.parametrize("name", [
    "artificialWithAnomaly/art_daily_flatmiddle.csv",  # a day's cycle stops: a flat line in range
    "realTraffic/speed_7578.csv",                      # the speed drops to 1 from around 65
])
def test_the_art_judge_alerts_in_windows_the_other_judges_miss(name: str) -> None:
    lab, path = next((lab, p) for lab, p in nab.labelled(NAB_CORPUS) if lab.name == name)
    with_art, without = _scores(path), _scores(path, art=False)
    best = [(max(with_art[a:b + 1]), max(without[a:b + 1])) for a, b in lab.windows]
    assert any(w >= DEFAULT_THRESHOLD > wo for w, wo in best), best


def test_a_state_saved_before_the_art_judge_restores_without_it() -> None:
    """States saved before the judge existed (no ``art`` key) carry on as the detector that saved
    them, with no adaptive-resonance judge."""
    d = ContextDetector(art=False)
    sf = read_series(NAB_CORPUS / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv")
    pts = [(sf.times[i], sf.values[i]) for i in sf.order]
    for t, v in pts[:2500]:
        d.step(t, v)
    old = json.loads(json.dumps(d.state()))
    del old["art"]
    copy = restore_detector("context", old)
    assert copy.art is None
    assert [d.step(t, v) for t, v in pts[2500:]] == [copy.step(t, v) for t, v in pts[2500:]]
