"""Reading numbers out of untyped input (JSON values, log fields, CSV cells)."""

from __future__ import annotations

import math
from typing import Any


def finite_float(v: Any) -> float | None:
    """``v`` as a finite float — a number, or text that parses as one — else None (booleans,
    NaN, ±inf, anything else)."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


#: CloudWatch's range for a metric value: PutMetricData refuses a value outside ±2^360, as it
#: refuses NaN and ±inf.
METRIC_LIMIT = 2.0 ** 360


def metric_value(v: Any) -> float | None:
    """``v`` as a value CloudWatch accepts — a finite number within ±2^360 — else None."""
    f = finite_float(v)
    return f if f is not None and -METRIC_LIMIT <= f <= METRIC_LIMIT else None
