"""``write_findings`` killed (SIGKILL) at each lake write of an update that spans two days:
every finding stays visible exactly once, all of them in the old version or all in the new one
(the earlier writer let a reader see an updated finding twice between its write and delete)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.lake import Lake
from tests.killpoints import KILL_AT_NTH_WRITE

REPO = Path(__file__).resolve().parents[3]
N = 40

WRITER = r"""
import os, signal, sys
from datetime import UTC, datetime, timedelta
import pyarrow as pa
from pipeline.detections.findings import write_findings
from pipeline.lake import Lake
from pipeline.schemas import FINDINGS

root, version, die_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
""" + KILL_AT_NTH_WRITE + r"""
n = int(sys.argv[4])
t0 = datetime(2026, 11, 3, 20, tzinfo=UTC)
cols = {f.name: pa.nulls(n, f.type) for f in FINDINGS}
cols["finding_id"] = pa.array([f"f{i:03d}" for i in range(n)])
cols["rule_id"] = pa.array(["r1"] * n)
cols["time"] = pa.array([t0 + timedelta(minutes=10 * i) for i in range(n)], FINDINGS.field("time").type)
cols["event_count"] = pa.array([version] * n, pa.int64())
write_findings(Lake(root), pa.table(cols, schema=FINDINGS))
"""


def _versions(lake: Lake) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for f in lake.table_files("findings"):
        t = pq.read_table(lake.path(f), columns=["finding_id", "event_count"])
        for fid, v in zip(t["finding_id"].to_pylist(), t["event_count"].to_pylist(), strict=True):
            seen.setdefault(fid, []).append(v)
    return seen


def _run(root: Path, version: int, die_at: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-c", WRITER, str(root), str(version), str(die_at), str(N)],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, -signal.SIGKILL), p.stderr
    return p.returncode


@pytest.mark.slow
def test_findings_update_killed_at_each_write_is_all_or_nothing(tmp_path: Path):
    root = tmp_path / "lake"
    lake = Lake(root)
    assert _run(root, 1, 0) == 0
    assert len({f.rsplit("/", 2)[1] for f in lake.table_files("findings")}) == 2  # spans two days
    outcomes = set()
    for die_at in range(1, 12):
        rc = _run(root, 2, die_at)
        seen = _versions(lake)
        assert sorted(seen) == [f"f{i:03d}" for i in range(N)]
        assert all(len(v) == 1 for v in seen.values()), "a finding is visible twice"
        versions = {v[0] for v in seen.values()}
        assert len(versions) == 1, f"old and new findings visible at once: {versions}"
        outcomes.add(versions.pop())
        if rc == 0:
            break
        _run(root, 1, 0)  # back to the old version for the next kill
    assert outcomes == {1, 2}
