"""What importing the package does to the process: NumPy's huge pages off unless the
environment says otherwise, whether numpy was imported before or after."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import numpy; print(numpy._core.multiarray._set_madvise_hugepage(True))"


@pytest.mark.parametrize(("first", "env", "enabled"), [
    ("import pipeline, numpy", None, "False"),
    ("import pyarrow, numpy; import pipeline", None, "False"),  # numpy already imported
    ("import pipeline", "1", "True"),  # the environment decides
])
def test_importing_the_package_turns_numpy_huge_pages_off(first, env, enabled):
    environ = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if env is not None:
        environ["NUMPY_MADVISE_HUGEPAGE"] = env
    out = subprocess.run([sys.executable, "-c", f"{first}; {PROBE}"], env=environ, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.stdout.strip() == enabled
