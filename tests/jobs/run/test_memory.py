"""The run's memory account and heap trimming, on this process's real glibc heap."""

from __future__ import annotations

import sys

import pytest

from jobs.run import memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")


def test_trim_returns_freed_heap_to_the_kernel() -> None:
    before = memory.snapshot()
    blocks = [bytes(700) + i.to_bytes(4, "little") for i in range(150_000)]  # ~100 MiB of malloc'd blocks
    held = memory.snapshot()
    assert held["heap_used_mib"] - before["heap_used_mib"] > 90  # type: ignore[operator]
    keep = blocks[::50]  # a few survivors scattered through the heap: it cannot just shrink from the top
    del blocks
    freed = memory.snapshot()
    assert freed["heap_free_mib"] > 90 and freed["rss_mib"] > held["rss_mib"] - 20  # type: ignore[operator]
    assert memory.trim()
    assert memory.rss_mib() < freed["rss_mib"] - 60  # type: ignore[operator]
    assert len(keep) == 3000


def test_snapshot_reads_rss_like_the_kernel_reports_it() -> None:
    import os

    with open("/proc/self/statm") as fh:
        resident_pages = int(fh.read().split()[1])
    by_statm = resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    assert abs(memory.snapshot()["rss_mib"] - by_statm) < 5  # type: ignore[operator]


PROBE = r"""
import sys, numpy as np
from jobs.run import memory
if sys.argv[1] == "tuned":
    memory.tune()
big = np.ones(16 << 17); del big      # a 16 MiB block, freed: glibc raises its mmap threshold to it
before = memory._libc().mallinfo2().hblkhd
block = np.ones(1 << 17)              # then 1 MiB: mapped on its own, or carved from the heap?
print(memory._libc().mallinfo2().hblkhd - before >= 1 << 20)
"""


@pytest.mark.parametrize("mode, mapped", [("tuned", "True"), ("default", "False")])
def test_tune_keeps_large_blocks_out_of_the_arenas(mode: str, mapped: str) -> None:
    import os
    import subprocess
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == mapped, out.stderr
