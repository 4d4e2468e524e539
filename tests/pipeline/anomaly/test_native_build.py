"""Every C source of the anomaly package's compiled judges (``_art*``, ``_mv*``, ``_seq*``)
compiles warning-free with ``-Wall -Wextra -Werror``: keep it so."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

import pipeline.anomaly

SOURCES = sorted(Path(pipeline.anomaly.__file__).parent.glob("_*.c"))


def test_the_sources_are_the_three_modules() -> None:
    assert {p.name.split("_")[1].split(".")[0] for p in SOURCES} == {"art", "mv", "seq"}


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
def test_the_module_compiles_wall_wextra_clean(src: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "make install puts a C compiler on the machine"
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
           f"-I{sysconfig.get_paths()['include']}", str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
