"""Without the native module (never built, or WATCHLAKE_NATIVE=0) CloudTrail files still load, through
the general path, with one warning line and the same table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_data" / "cloudtrail"


def _ingest(lake: Path, native: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLAKE")}
    env.update(PYTHONPATH=str(REPO), WATCHLAKE_NATIVE="1" if native else "0")
    return subprocess.run([sys.executable, "-m", "jobs.cli", "-q", "--lake", str(lake), "ingest", "cloudtrail",
                           str(SAMPLE), "--workers", "2"], env=env, capture_output=True, text=True, timeout=300,
                          check=True)


def _rows(lake: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    return con.execute(
        "SELECT * EXCLUDE (_wl_ingest_time) FROM read_parquet(?) ORDER BY eventID",
        [str(lake / "raw" / "cloudtrail" / "**" / "*.parquet")]).fetchall()


def test_general_path_loads_the_same_table_with_one_warning(tmp_path):
    native = _ingest(tmp_path / "native", native=True)
    general = _ingest(tmp_path / "general", native=False)
    assert "warning" not in native.stderr
    warnings = [ln for ln in general.stderr.splitlines() if "warning" in ln]
    # one line per worker process at most, naming the cause and the consequence
    assert 1 <= len(warnings) <= 2 and all("WATCHLAKE_NATIVE=0" in w and "general path" in w for w in warnings)
    a, b = _rows(tmp_path / "native"), _rows(tmp_path / "general")
    assert len(a) > 10_000 and a == b
