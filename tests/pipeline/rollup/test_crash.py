"""The rollup runner killed (SIGKILL) again and again, each rerun at a later lake write: readers
never see a bucket twice, and the reruns end with exactly the rows of an uninterrupted run (each
partition is replaced in one lake commit, :mod:`pipeline.lake.replace`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from tests.killpoints import KILL_AT_NTH_WRITE
from tests.pipeline.rollup.gen import T0, point, write_metrics
from tests.pipeline.rollup.test_runner import rows_of

REPO = Path(__file__).resolve().parents[3]
TABLES = ("metrics_1m", "metrics_5m", "metrics_1h")

WORKER = r"""
import os, signal, sys
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups

root, die_at = sys.argv[1], int(sys.argv[2])
""" + KILL_AT_NTH_WRITE + r"""
settings = load_settings(env={}, overrides={"lake.root": root})
run_rollups(Lake(root), settings, DuckDBEngine())
print("finished", flush=True)
"""


def _lake(root: Path, hours: int) -> Lake:
    lake = Lake(root)
    write_metrics(lake, [point(T0 + timedelta(minutes=m), float(m % 7)) for m in range(hours * 60)])
    return lake


def _no_duplicate_buckets(lake: Lake) -> None:
    for t in TABLES:
        keys = [r[:5] for r in rows_of(lake, t)]
        assert len(keys) == len(set(keys)), f"{t}: a bucket is visible twice"


@pytest.mark.slow
def test_rollup_killed_at_ever_later_writes_ends_like_an_uninterrupted_run(tmp_path: Path):
    # the reference: the same lake rolled up without interruption (two days: two 1m partitions)
    ref = _lake(tmp_path / "ref", 30)
    run_rollups(ref, load_settings(env={}, overrides={"lake.root": str(tmp_path / "ref")}), DuckDBEngine())
    expected = {t: rows_of(ref, t) for t in TABLES}
    assert all(expected.values())

    root = tmp_path / "lake"
    lake = _lake(root, 30)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    die_at, finished = 1, False
    while not finished:
        p = subprocess.run([sys.executable, "-c", WORKER, str(root), str(die_at)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
        finished = p.returncode == 0
        assert finished or p.returncode == -signal.SIGKILL, p.stderr
        _no_duplicate_buckets(lake)
        die_at += 1
    assert die_at > 10  # it was killed ten times and more before a run got through
    assert {t: rows_of(lake, t) for t in TABLES} == expected
    # and a rerun has nothing to do
    assert all(not j.built for j in run_rollups(lake, load_settings(
        env={}, overrides={"lake.root": str(root)}), DuckDBEngine()).jobs)
