"""NAB's 41 development files scored by a detector handed what NAB hands the published detectors:
each file's length and its values' range in advance (tests/benchmarks/test_nab_art.py, _cad.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import nab

NAB_CORPUS = Path(__file__).resolve().parents[1] / "data" / "nab-corpus"


def optimised_scores(score: Callable[[np.ndarray, int], np.ndarray]) -> dict[str, float]:
    """NAB's normalised score per profile at its optimised threshold, ``score(values, rows)``
    giving each file's scores from its present values (in time order) and its row count; rows
    without a value score 0."""
    from pipeline.anomaly.series_io import read_series

    files = []
    for lab, path in nab.labelled(NAB_CORPUS):
        sf = read_series(path)
        rows = [i for i in sf.order if sf.values[i] is not None]
        out = np.zeros(len(sf.values))
        out[rows] = score(np.array([sf.values[i] for i in rows], dtype=np.float64), len(sf.values))
        files.append((out.tolist(), lab.windows))
    assert len(files) == 41
    return {p: nab.optimise_threshold(files, nab.PROFILES[p])[1] for p in nab.PROFILES}
