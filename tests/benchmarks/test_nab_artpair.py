"""nab_artpair: one judge at offset 0 is the default detector; the combined confidence is the
``rank``-th largest of the judges' most recent blocks."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from benchmarks.nab_artpair import PhasedArt, artpair_scores
from benchmarks.nab_eval import context_scores, file_scores

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_one_judge_at_offset_0_is_the_default_detector() -> None:
    assert file_scores(FILE, artpair_scores, (0,), 1) == file_scores(FILE, partial(context_scores, runs=False))


class _Fixed:
    """A stand-in judge closing a block every ``step`` values with the given confidences."""

    def __init__(self, confidences: list[float], step: int = 7) -> None:
        self.c, self.step, self.n = list(confidences), step, 0

    def push(self, x: float) -> float | None:
        self.n += 1
        return self.c.pop(0) if self.n % self.step == 0 else None


def test_the_combined_confidence_is_the_rank_th_largest_of_the_recent_blocks() -> None:
    pa = PhasedArt((0, 3), 2)
    assert pa.step == 7
    pa.judges = [_Fixed([0.0, 0.6, 0.0]), _Fixed([0.0, 0.4, 0.0])]  # type: ignore[list-item]
    out = [pa.push(0.0) for _ in range(21)]
    # judge 0 closes at 7, 14, 21; judge 1 (3 late) at 10, 17
    assert [i + 1 for i, o in enumerate(out) if o is not None] == [7, 10, 14, 17, 21]
    assert out[13] == 0.0            # row 14: 0.6, but judge 1's last block (row 10) said 0
    assert out[16] == 0.4            # row 17: both mismatched within a block length → the smaller
    assert out[20] == 0.0            # row 21: judge 0 back to 0
    one = PhasedArt((0, 3), 1)
    one.judges = [_Fixed([0.0, 0.6, 0.0]), _Fixed([0.0, 0.4, 0.0])]  # type: ignore[list-item]
    assert [one.push(0.0) for _ in range(21)][13] == 0.6
