"""Metric anomaly detection and CloudTrail Insights.

Detectors are streaming (``learn_one`` / ``score_one``, see :mod:`pipeline.anomaly.base`), one
module each; :func:`make_detector` builds one by name. :mod:`pipeline.anomaly.band` gives
CloudWatch's ``ANOMALY_DETECTION_BAND``; :mod:`pipeline.anomaly.insights` finds CloudTrail
Insights. (Scoring detectors the NAB way lives with the benchmarks: ``benchmarks/nab.py``.)
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import RuleError

DEFAULT_DETECTOR = "context"
DETECTORS = ("multiview", "context", "zscore", "spectral", "art")
#: Fixed alert threshold (score ≥ 0.5 ⇔ surprise ≥ ``scale``, a one-in-1,000 rarity for the
#: series). NAB's optimised threshold for ``context`` on the 41 development files is 0.476
#: (standard and low-FN; 0.480 low-FP), and 0.476–0.480 is chosen for standard with any one of the six groups
#: held out (benchmarks/nab_eval.py).
DEFAULT_THRESHOLD = 0.5


def make_detector(name: str = DEFAULT_DETECTOR, **params: Any) -> Any:
    """A fresh detector by name (``context`` — the default —, ``multiview``, ``zscore``,
    ``spectral``, the Spectral Residual option, or ``art``, the adaptive-resonance option)."""
    if name == "multiview":
        from pipeline.anomaly.multiview import MultiViewDetector

        return MultiViewDetector(**params)
    if name == "context":
        from pipeline.anomaly.context import ContextDetector

        return ContextDetector(**params)
    if name == "zscore":
        from pipeline.anomaly.zscore import ZScoreDetector

        return ZScoreDetector(**params)
    if name == "spectral":
        from pipeline.anomaly.spectral import SpectralDetector

        return SpectralDetector(**params)
    if name == "art":
        from pipeline.anomaly.art import ArtDetector

        return ArtDetector(**params)
    raise RuleError(name, f"unknown detector (known: {', '.join(DETECTORS)})", field="detector")


def restore_detector(name: str, state: dict[str, Any]) -> Any:
    """A detector rebuilt from its :meth:`state` snapshot (``context``, ``multiview``, ``spectral``
    or ``art``).

    Raises:
        RuleError: the detector cannot be restored from a snapshot (``zscore``) or is unknown.
    """
    if name == "context":
        from pipeline.anomaly.context import ContextDetector

        return ContextDetector.from_state(state)
    if name == "multiview":
        from pipeline.anomaly.multiview import MultiViewDetector

        return MultiViewDetector.from_state(state)
    if name == "spectral":
        from pipeline.anomaly.spectral import SpectralDetector

        return SpectralDetector.from_state(state)
    if name == "art":
        from pipeline.anomaly.art import ArtDetector

        return ArtDetector.from_state(state)
    raise RuleError(name, "no state restore for this detector (known: context, multiview, spectral, art)",
                    field="detector")
