"""The rollup's C modules compile warning-free with -Wall -Wextra (the flags setup.py builds them
with) and are built (without them the rollups take the numpy and SQL paths)."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from pipeline.rollup import rawgroup
from pipeline.rollup.merge import native

ROLLUP = Path(__file__).resolve().parents[3] / "pipeline" / "rollup"


@pytest.mark.parametrize("source", ["_sketchmerge.c", "_rawgroup.c"])
def test_the_modules_are_wall_wextra_clean_and_built(source):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "make install puts a C compiler on the machine"
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
           f"-I{sysconfig.get_paths()['include']}", str(ROLLUP / source)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert native() and rawgroup.available([])
