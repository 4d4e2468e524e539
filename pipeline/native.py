"""The one rule for the compiled modules (``pipeline/**/_*.c``): each is used when it is built and
``WATCHLAKE_NATIVE`` is not ``0``; otherwise its module's pure-Python path gives the same results.
The variable is read at each call, so a test (or a user chasing a difference) can switch it."""

from __future__ import annotations

import os


def turned_off() -> bool:
    """``WATCHLAKE_NATIVE=0``: every compiled module is bypassed."""
    return os.environ.get("WATCHLAKE_NATIVE", "1") == "0"


def use_native(module: object | None) -> bool:
    """Whether a compiled module is used: it is built (``module``, its import, is not ``None``)
    and not :func:`turned_off`."""
    return module is not None and not turned_off()
