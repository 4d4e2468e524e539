"""The one C module compiles warning-free with -Wall -Wextra (the flags setup.py builds it with)."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[3] / "pipeline" / "sources"


def test_c_module_is_wall_wextra_clean():
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "make install puts a C compiler on the machine"
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
           f"-I{sysconfig.get_paths()['include']}", f"-I{SOURCES / 'vendor' / 'yyjson'}",
           str(SOURCES / "_jsoncols.c")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
