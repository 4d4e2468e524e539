"""``ANOMALY_DETECTION_BAND(m, k)``: the expected band of a series, as CloudWatch draws it.

The band is the default detector's (:data:`pipeline.anomaly.DEFAULT_DETECTOR`, ``context``): its
one-step forecast ± ``k`` residual standard deviations — the same ``expected`` / ``lower`` /
``upper`` the anomaly job writes beside each score, so an alarm, a dashboard band and an anomaly
score never disagree about what was expected.

>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> ts = [t0 + timedelta(minutes=5 * i) for i in range(60)]
>>> b = expected_band(ts, [10.0 + (i % 2) for i in range(60)], k=2)
>>> b.expected[0] is None, b.lower[-1] < 10.5 < b.upper[-1]
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.anomaly import DEFAULT_DETECTOR, make_detector
from pipeline.anomaly.base import VALUE_LIMIT
from pipeline.timeutil import to_utc


@dataclass(frozen=True)
class Band:
    """Expected value and band edges, aligned with the input (None where there is no model yet).

    Attributes:
        expected: the default detector's one-step forecast for each point; never below 0 for a
            series that has never been negative.
        lower, upper: ``expected ∓ k·σ``, σ the standard deviation of the model's residuals;
            ``lower`` never goes below 0 for a series that has never been negative.
    """

    expected: list[float | None]
    lower: list[float | None]
    upper: list[float | None]


def expected_band(timestamps: Sequence[datetime], values: Sequence[float | None],
                  k: float = 2.0) -> Band:
    """The band of width ``k`` standard deviations for each point of one series.

    Guarantees: causal — the band at ``i`` is computed from points before ``i`` only (the model
    is updated with point ``i`` after its band is taken); None during the warm-up (the first 30
    present values); missing values (None/NaN) get a band but are not learnt; points the detector
    flags as anomalous are not learnt either (CloudWatch's outlier filtering), so one spike does
    not widen the band after it. ``timestamps`` must be in ascending order.
    """
    det = make_detector(DEFAULT_DETECTOR, k=k)
    mv = det.mv
    expected: list[float | None] = []
    lower: list[float | None] = []
    upper: list[float | None] = []
    for ts, v in zip(timestamps, values, strict=True):
        t = to_utc(ts).timestamp()
        x = None if v is None else float(v)
        sc = det.step(t, x)
        if sc.expected is None and (x is None or not -VALUE_LIMIT <= x <= VALUE_LIMIT):
            b = mv.forecast(t)
            if b is not None:
                lo = b[0] - k * b[1]
                expected.append(b[0])
                lower.append(0.0 if mv.nonneg and lo < 0 else lo)
                upper.append(b[0] + k * b[1])
                continue
        expected.append(sc.expected)
        lower.append(sc.lower)
        upper.append(sc.upper)
    return Band(expected, lower, upper)
