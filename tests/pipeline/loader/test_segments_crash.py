"""A loader killed inside a raw-metrics commit: the next loader owes Flink exactly the segments the
dead commit did not write — every row the lake holds reaches the inbox once (the segment gap)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.lake import Lake
from pipeline.loader import segments
from pipeline.loader.commit import Committer, Work
from pipeline.schemas import METRICS
from tests.pipeline.loader.test_segments import _lines
from tests.pipeline.rollup.gen import T0, point

REPO = Path(__file__).resolve().parents[3]
FOLDER = "raw/metrics/dt=2026-11-05/hour=00"

#: The child: commits minutes 0–4 through the loader's Committer and SIGKILLs itself at one point
#: of the commit (``before``: ahead of the Parquet file; ``file``: after the file and its ledger
#: entry, ahead of the segment; ``segment``: after the segment, ahead of dropping the marker).
CHILD = """
import os, signal, sys
from datetime import timedelta
import pyarrow as pa
from pipeline.lake import Lake
from pipeline.loader import segments
from pipeline.loader.commit import Committer, Work
from pipeline.schemas import METRICS
from tests.pipeline.rollup.gen import T0, point

where, lake = sys.argv[1], Lake(sys.argv[2])
def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
if where == "before":
    Lake.write_partition = die
elif where == "file":
    segments.write_segment = die
else:
    segments.finish = die
t = pa.Table.from_pylist([point(T0 + timedelta(minutes=i), float(i)) for i in range(5)], schema=METRICS)
c = Committer(lake)
c.submit(Work("metrics", sys.argv[3], [t], t.num_rows, t.nbytes))
c.close()
"""


def lake_values(lake: Lake) -> list[float]:
    """The raw metric sums the lake holds (one per committed row)."""
    files = lake.table_files("metrics")
    if not files:
        return []
    t = pa.concat_tables(pq.read_table(lake.path(f), filesystem=lake.fs) for f in files)
    return sorted(t.column("sum").to_pylist())


def segment_values(lake: Lake) -> list[float]:
    """The sums of every segment line in the inbox (k = 0 rows: one per raw row)."""
    return sorted(r[4] for e in segments.inbox_segments(lake) for r in _lines(lake.read_bytes(e.path)))


@pytest.mark.parametrize("where", ["before", "file", "segment"])
def test_a_commit_killed_anywhere_reaches_flink_exactly_once(tmp_path, where) -> None:
    lake = Lake(tmp_path / "lake")
    segments.enable(lake)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, where, str(lake.base), FOLDER], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pending = lake.entries(segments.PENDING, recursive=False)
    assert len(pending) == 1  # the dead commit's marker
    committed = lake_values(lake)
    assert committed == ([] if where == "before" else [0.0, 1.0, 2.0, 3.0, 4.0])
    assert segment_values(lake) == ([0.0, 1.0, 2.0, 3.0, 4.0] if where == "segment" else [])

    # the next loader: its first raw-metrics commit settles the dead one, then commits its own
    # batch (minutes 3-7: 3 and 4 are duplicates unless the dead commit never reached the lake)
    again = pa.Table.from_pylist([point(T0 + timedelta(minutes=i), float(i)) for i in range(3, 8)], schema=METRICS)
    c = Committer(lake)
    c.submit(Work("metrics", FOLDER, [again], again.num_rows, again.nbytes))
    c.close()
    assert lake.entries(segments.PENDING, recursive=False) == []
    expected = [3.0, 4.0, 5.0, 6.0, 7.0] if where == "before" else [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert lake_values(lake) == expected
    assert segment_values(lake) == expected  # every committed row in exactly one segment line
    assert segments.settle(lake) == 0  # idempotent: nothing is owed any more


def test_seed_takes_over_a_dead_commits_segment(tmp_path) -> None:
    """A first start's seed (every partition locked) exports a dead commit's file and drops its
    marker, so no later settle writes the same rows again."""
    lake = Lake(tmp_path / "lake")
    segments.enable(lake)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, "file", str(lake.base), FOLDER], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    rel, lines = segments.seed(lake)
    assert rel is not None and lines == 5
    assert lake.entries(segments.PENDING, recursive=False) == []
    assert segments.settle(lake) == 0
    assert segment_values(lake) == [0.0, 1.0, 2.0, 3.0, 4.0]
