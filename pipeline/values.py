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
