"""SIGKILL the loader at random moments and rerun; run two loaders at once. Every key must end up
in the lake exactly once and every visible file must be complete."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.lake import Lake
from pipeline.query.duck import connect

REPO = Path(__file__).resolve().parents[3]

WORKER = r"""
import sys, json
from datetime import timedelta
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.loader import Loader
from tests.pipeline.loader.helpers import ct_batch, ct_rows

root, order = sys.argv[1], sys.argv[2]
settings = load_settings(env={}, overrides={"lake.root": root, "loader.buffer_seconds": "0"})
loader = Loader(Lake(root), settings.loader)
batches = list(range(16))
if order == "reverse":
    batches.reverse()
print("ready", flush=True)
for b in batches:
    rows = ct_rows(1000, start=b * 800, step=timedelta(seconds=7))   # 200 keys overlap the next batch
    if b % 7 == 0:
        rows[0]["eventTime"] = None                                  # one rejection every 7 batches
    loader.add(ct_batch(rows, origin=f"batch-{b}"))
s = loader.close()
print(json.dumps({"in": s.records_in, "loaded": s.loaded, "rejected": s.rejected, "dup": s.duplicates}), flush=True)
"""
N_KEYS = 15 * 800 + 1000  # ev-00000000 … ev-00012999
REJECTED = {"ev-00000000"}  # the other rejected rows' keys also arrive, valid, in the previous batch


def start(root: str, order: str = "forward") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", WORKER, root, order], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check(lake: Lake) -> None:
    for f in lake.table_files("cloudtrail"):
        pq.read_metadata(lake.path(f))  # every visible file is complete
    rows = connect(lake, ["cloudtrail"]).execute(
        "SELECT eventID, count(*) FROM cloudtrail GROUP BY 1 HAVING count(*) > 1").fetchall()
    assert rows == []


def expected_ids() -> list[str]:
    return sorted({f"ev-{i:08d}" for i in range(N_KEYS)} - REJECTED)


def ids(lake: Lake) -> list[str]:
    return [r[0] for r in connect(lake, ["cloudtrail"]).execute(
        "SELECT eventID FROM cloudtrail ORDER BY 1").fetchall()]


@pytest.mark.slow
def test_sigkill_at_20_random_moments(lake_root: Path):
    lake = Lake(lake_root)
    rng = random.Random(4)
    p = start(str(lake_root))
    assert p.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    full = time.monotonic() - t0
    import shutil

    shutil.rmtree(lake_root)
    kills = 0
    while kills < 20:
        p = start(str(lake_root))
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, full))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait(timeout=60)
        check(lake)
    p = start(str(lake_root))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    check(lake)
    assert ids(lake) == expected_ids()
    import json

    s = json.loads(out.strip().splitlines()[-1])
    assert s["in"] == s["loaded"] + s["rejected"] + s["dup"]
    assert not list(lake_root.rglob("*.tmp")) and not list(lake_root.rglob("*.pending"))


@pytest.mark.slow
def test_two_loaders_at_once(lake_root: Path):
    lake = Lake(lake_root)
    a, b = start(str(lake_root)), start(str(lake_root), "reverse")
    for p in (a, b):
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    check(lake)
    assert ids(lake) == expected_ids()
    # loading the same input a third time changes nothing
    before = sorted(lake.list_files(""))
    p = start(str(lake_root))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert '"loaded": 0' in out
    assert sorted(lake.list_files("")) == before


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigkill_stream_loader_then_rerun(lake_root: Path, tmp_path: Path):
    from pipeline.stream import Stream

    streams = tmp_path / "streams"
    s = Stream.create(str(streams), "ks", 3)
    for i in range(0, 6000, 500):
        s.put([(f"k{j % 97}", f"r{j}".encode()) for j in range(i, i + 500)])
    env = {**os.environ, "PYTHONPATH": str(REPO), "WATCHLAKE__STREAM__ROOT": str(streams),
           "WATCHLAKE__LOADER__BUFFER_SECONDS": "0"}
    args = ["--lake", str(lake_root), "-q", "load", "--from-stream", "ks", "--once"]
    rng = random.Random(9)
    for _ in range(8):
        p = _cli(args, env)
        time.sleep(rng.uniform(0.5, 2.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
    p = _cli(args, env)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    lake = Lake(lake_root)
    for f in lake.table_files("records"):
        pq.read_metadata(lake.path(f))
    rows = connect(lake, ["records"]).execute(
        "SELECT count(*), count(DISTINCT (shardId, sequenceNumber)), count(DISTINCT data) FROM records").fetchone()
    assert rows == (6000, 6000, 6000)


@pytest.mark.slow
def test_continuous_load_stops_cleanly_on_sigterm(lake_root: Path, tmp_path: Path):
    from pipeline.stream import Stream

    streams = tmp_path / "streams"
    s = Stream.create(str(streams), "live", 2)
    env = {**os.environ, "PYTHONPATH": str(REPO), "WATCHLAKE__STREAM__ROOT": str(streams),
           "WATCHLAKE__LOADER__BUFFER_SECONDS": "900"}
    p = _cli(["--lake", str(lake_root), "load", "--from-stream", "live", "--poll-seconds", "0.2"], env)
    s.put([(f"k{j}", f"r{j}".encode()) for j in range(300)])
    time.sleep(3)
    s.put([(f"k{j}", f"r{j}".encode()) for j in range(300, 400)])
    time.sleep(1)
    p.send_signal(signal.SIGTERM)  # buffered rows (900 s hint) are flushed on the way out
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "loaded              400" in err
    n = connect(Lake(lake_root), ["records"]).execute("SELECT count(*) FROM records").fetchone()[0]
    assert n == 400
