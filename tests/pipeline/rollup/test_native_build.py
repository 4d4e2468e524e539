"""The sketch-merging C module compiles warning-free with -Wall -Wextra (the flags setup.py builds it
with) and is built (the rollups take the numpy path without it)."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

from pipeline.rollup.merge import native

SOURCE = Path(__file__).resolve().parents[3] / "pipeline" / "rollup" / "_sketchmerge.c"


def test_sketchmerge_is_wall_wextra_clean_and_built():
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "make install puts a C compiler on the machine"
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
           f"-I{sysconfig.get_paths()['include']}", str(SOURCE)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert native()
