"""nab_hodsigma: the hour-of-day σ is the default with no factor, and learns a daily noise cycle."""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_hodsigma import HodSigmaModel, hod_scores
from pipeline.anomaly.model import SeasonalModel

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_without_the_factor_it_is_the_default_detector_bit_for_bit() -> None:
    assert file_scores(FILE, hod_scores, 0.0) == file_scores(FILE, bagless_scores)


def test_the_factor_follows_a_noise_that_is_three_times_larger_from_noon_to_six() -> None:
    rng = random.Random(3)
    m = HodSigmaModel(7.0, warmup=30)
    assert m.factor(0.0) == 1.0  # no sample of the hour yet
    t0 = 1_700_006_400.0  # a midnight (UTC)
    for i in range(14 * 288):  # two weeks of 5-minute points
        t = t0 + 300.0 * i
        loud = 12 <= int(t // 3600) % 24 < 18
        m.learn(t, 100.0 + rng.gauss(0.0, 3.0 if loud else 1.0))
    noon, night = t0 + 14 * 86400 + 13.5 * 3600, t0 + 14 * 86400 + 3.5 * 3600
    # the noise is 3× larger at noon; the plain model hands out one σ at every hour (its tracker
    # lags the cycle by hours), the factored one most of the 3× (the lag blurs it a little)
    assert m.factor(noon) > 1.5 and m.factor(night) < 0.9
    assert m.best(noon)[1] > 2.0 * m.best(night)[1]
    plain = SeasonalModel(warmup=30)
    rng = random.Random(3)
    for i in range(14 * 288):
        t = t0 + 300.0 * i
        plain.learn(t, 100.0 + rng.gauss(0.0, 3.0 if 12 <= int(t // 3600) % 24 < 18 else 1.0))
    assert plain.best(noon)[1] == plain.best(night)[1]
