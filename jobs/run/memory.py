"""The run process's memory: what it holds (for ``status.json``) and returning freed heap to the OS.

A long-running Python process that allocates and frees large, short-lived buffers (decoded
batches, Arrow tables, DuckDB results) on several threads leaves glibc's heaps fragmented: freed
memory stays mapped in per-thread arenas and RSS creeps up although nothing is live.
:func:`tune` (at the start of a run) caps glibc at two arenas and serves every block of 256 KiB
or more from its own mapping, returned to the kernel when freed (glibc otherwise raises that
threshold to 32 MiB after the first large free, and big short-lived buffers then fragment the
arenas); :func:`trim` (``malloc_trim(0)``) hands free pages of every arena back to the kernel;
the supervisor calls it once a minute (a few milliseconds). Elsewhere than glibc these
functions report what they can and do nothing else.

Guarantees: never raises; every figure in MiB, ``None`` where the platform cannot tell.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache
from typing import Any

_MiB = float(1 << 20)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


@lru_cache(maxsize=1)
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        lib.malloc_trim.argtypes = [ctypes.c_size_t]
        lib.malloc_trim.restype = ctypes.c_int
        if hasattr(lib, "mallinfo2"):
            lib.mallinfo2.restype = _MallInfo2
        return lib
    except (OSError, AttributeError):
        return None


def rss_mib() -> float | None:
    """Resident set size of this process (``VmRSS``)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def snapshot() -> dict[str, float | None]:
    """RSS; glibc heap in use and free (free = fragmentation :func:`trim` can return); Arrow's pool."""
    out: dict[str, float | None] = {"rss_mib": rss_mib(), "heap_used_mib": None, "heap_free_mib": None,
                                    "arrow_mib": None}
    lib = _libc()
    if lib is not None and hasattr(lib, "mallinfo2"):
        mi = lib.mallinfo2()
        out["heap_used_mib"] = round((mi.uordblks + mi.hblkhd) / _MiB, 1)
        out["heap_free_mib"] = round(mi.fordblks / _MiB, 1)
    if "pyarrow" in sys.modules:
        out["arrow_mib"] = round(sys.modules["pyarrow"].total_allocated_bytes() / _MiB, 1)
    if out["rss_mib"] is not None:
        out["rss_mib"] = round(out["rss_mib"], 1)
    return out


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD = 256 << 10
ARENA_MAX = 2


def tune() -> dict[str, int]:
    """Set glibc's arena cap and mmap threshold (module docstring) unless the environment sets them
    (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``); returns what was set."""
    import os

    lib = _libc()
    done: dict[str, int] = {}
    if lib is None or not hasattr(lib, "mallopt"):
        return done
    for env, opt, value in (("MALLOC_ARENA_MAX", _M_ARENA_MAX, ARENA_MAX),
                            ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                            ("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)):
        if env not in os.environ and lib.mallopt(opt, value) == 1:
            done[env] = value
    return done


def trim() -> bool:
    """Return free heap pages to the kernel (glibc ``malloc_trim(0)``); True if anything was released."""
    lib = _libc()
    if lib is None:
        return False
    try:
        return bool(lib.malloc_trim(0))
    except (OSError, AttributeError):
        return False
