"""nab_memory: the default's memories are the default detector; each variant changes the scores."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_memory import VARIANTS, memory_scores

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_the_default_memories_are_the_default_detector_bit_for_bit() -> None:
    assert file_scores(FILE, memory_scores, 0.1, 0.01) == file_scores(FILE, bagless_scores)


def test_each_variant_reaches_the_forecaster() -> None:
    default = file_scores(FILE, bagless_scores)
    for fast, err in VARIANTS.values():
        assert file_scores(FILE, memory_scores, fast, err) != default
