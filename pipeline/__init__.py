"""watchlake: a local-first monitoring and audit analytics pipeline for AWS-shaped data.

The package is importable without heavy dependencies: pyflink, streamlit and boto3 are
imported only inside the functions that need them.

NumPy's transparent huge pages are turned off for the process (``NUMPY_MADVISE_HUGEPAGE=0``,
unless the environment sets it): watchlake's large arrays are filled once and freed within a
job, and on a kernel that compacts memory to fault a huge page in (``defrag=madvise``, the
Debian default) those faults cost more than the TLB saves — 0.2 CPU-s of a 10 M-point rollup
chain's 5 (``benchmarks/bench_rollup.py``).
"""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"

if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"  # read when numpy is imported
    if "numpy" in sys.modules:  # imported already: numpy's switch for it
        _switch = getattr(getattr(sys.modules["numpy"], "_core", None), "multiarray", None)
        if _switch is not None and hasattr(_switch, "_set_madvise_hugepage"):
            _switch._set_madvise_hugepage(False)
