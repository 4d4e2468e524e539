from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.lake import Lake

WRITER = """
import sys
from pipeline.lake import Lake
lake = Lake(sys.argv[1])
payload = bytes(range(256)) * (4 * 1024 * 16)       # 16 MiB, content checkable
i = 0
while True:
    lake.write_bytes(f"t/f{i % 3}.bin", payload)
    i += 1
    print(i, flush=True)
"""


def test_write_parquet_and_list(lake: Lake):
    table = pa.table({"a": list(range(1000))})
    info = lake.write_partition("metrics_1m", {"dt": "2025-02-11"}, table)
    assert info.rows == 1000 and info.path.startswith("rollups/metrics_1m/dt=2025-02-11/part-")
    assert lake.table_files("metrics_1m") == [info.path]
    assert pq.read_table(lake.uri(info.path)).num_rows == 1000
    assert list(lake.iter_partitions("metrics_1m")) == [({"dt": "2025-02-11"},
                                                          "rollups/metrics_1m/dt=2025-02-11")]


def test_temp_and_hidden_files_are_not_part_of_a_table(lake: Lake):
    lake.write_partition("metrics_1m", {"dt": "2025-02-11"}, pa.table({"a": [1]}))
    folder = Path(lake.uri("rollups/metrics_1m/dt=2025-02-11"))
    (folder / ".part-x.parquet.1234.tmp").write_bytes(b"half")
    (folder / "_SUCCESS").write_bytes(b"")
    assert len(lake.table_files("metrics_1m")) == 1


@pytest.mark.slow
def test_sigkill_during_writes_never_leaves_a_partial_file(tmp_path: Path):
    """Kill a writer at random moments: every visible file is complete, every time."""
    root = tmp_path / "lake"
    expected = bytes(range(256)) * (4 * 1024 * 16)
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        proc.stdout.readline()                       # at least one write completed
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lake = Lake(root)
        visible = lake.list_files("t")
        assert visible, "the first completed write must be visible"
        for rel in visible:
            assert lake.read_bytes(rel) == expected, f"{rel} is partial"
