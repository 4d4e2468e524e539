"""The anomaly stage of ``watchlake run`` killed (SIGKILL) at every lake write of its steps: each
restarted process resumes from the checkpoint, and the end state is an uninterrupted run's — every
point scored once (no ``anomalies`` row lost or doubled) and every alert delivered, none under two
ids."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.notify import TopicStore
from pipeline.query.duck import connect
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from tests.killpoints import KILL_AT_NTH_WRITE
from tests.pipeline.rollup.gen import point, write_metrics

REPO = Path(__file__).resolve().parents[3]
SERIES, HISTORY = 6, 360

WORKER = r"""
import os, signal, sys
from pipeline.config import load_settings
from pipeline.lake import Lake
from jobs.run.stages import AnomalyStage

root, die_at = sys.argv[1], int(sys.argv[2])
""" + KILL_AT_NTH_WRITE + r"""
settings = load_settings(env={}, overrides={"lake.root": root, "run.anomaly_topic": "oncall"})
AnomalyStage(Lake(root), settings).step()
print("finished", flush=True)
"""


def _minute(t0: datetime, m: int, rng: random.Random, spike: bool = False) -> list[dict]:
    return [point(t0 + timedelta(minutes=m, seconds=s), 400.0 if spike and h == 2 and s == 30 else
                  20 + h + rng.gauss(0, 0.3), dims={"Host": f"h{h}"})
            for h in range(SERIES) for s in (10, 30, 50)]


def _settings(root: Path):
    return load_settings(env={}, overrides={"lake.root": str(root), "run.anomaly_topic": "oncall"})


def _rows(lake: Lake) -> list[tuple]:
    if not lake.table_files("anomalies"):
        return []
    con = connect(lake, ["anomalies"])
    return con.execute("SELECT series_id, epoch_ms(timestamp), value, score, is_anomaly FROM anomalies "
                       "ORDER BY 1, 2").fetchall()


def _alerts(lake: Lake) -> dict[str, str]:
    """MessageId → message of the file subscriber; one message per id (a redelivery is the same)."""
    out: dict[str, str] = {}
    if lake.exists("notify/oncall.jsonl"):
        for line in lake.read_bytes("notify/oncall.jsonl").decode().splitlines():
            env = json.loads(line)
            assert out.setdefault(env["MessageId"], env["Message"]) == env["Message"]
    return out


@pytest.mark.slow
def test_anomaly_stage_killed_at_every_write_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    from jobs.run.stages import AnomalyStage

    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=HISTORY + 5)
    rng = random.Random(3)
    root, ref_root = tmp_path / "lake", tmp_path / "ref"
    lake = Lake(str(root))
    topics = TopicStore(lake)
    topics.subscribe("oncall", "file", "notify/oncall.jsonl")
    topics.save()
    write_metrics(lake, [p for m in range(HISTORY) for p in _minute(t0, m, rng)])
    shutil.copytree(root, ref_root)
    ref = Lake(str(ref_root))
    engines = {root: DuckDBEngine(), ref_root: DuckDBEngine()}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reference = AnomalyStage(ref, _settings(ref_root))
    # phases: the warm-up over the history, a minute with a spike on h2, two quiet minutes after it
    phases = [[], _minute(t0, HISTORY, rng, spike=True), _minute(t0, HISTORY + 1, rng) + _minute(t0, HISTORY + 2, rng)]
    kills = 0
    for rows in phases:
        for where, at in ((lake, root), (ref, ref_root)):
            if rows:
                write_metrics(where, rows)
            run_rollups(where, _settings(at), engines[at])
        reference.step()
        die_at = 1
        while True:  # a fresh process each time, killed one lake write later than the last
            p = subprocess.run([sys.executable, "-c", WORKER, str(root), str(die_at)], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=300)
            if p.returncode == 0:
                break
            assert p.returncode == -signal.SIGKILL, p.stderr
            kills += 1
            keys = [r[:2] for r in _rows(lake)]
            assert len(keys) == len(set(keys)), "a point scored twice"
            die_at += 1
        assert _rows(lake) == _rows(ref)
    assert kills > 20  # killed at every write of three steps
    alerts = _alerts(lake)
    assert alerts == _alerts(ref)
    spikes = [json.loads(m) for m in alerts.values() if '"h2"' in m]
    assert any(m["StateChangeTime"].startswith((t0 + timedelta(minutes=HISTORY)).strftime("%Y-%m-%dT%H:%M"))
               for m in spikes), alerts
