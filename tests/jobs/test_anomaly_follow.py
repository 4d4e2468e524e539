"""anomalies detect, follow mode over a live 1-minute tier: each step reads only what the rollups
wrote since the last one (its cost does not grow with the tier's history), the scores equal one
pass of the detector over every series, and a step killed between its rows and its checkpoint is
redone without a row written twice."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from jobs.anomaly_job import detect, job_key
from jobs.anomaly_lake import read_series
from pipeline.anomaly import make_detector
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.query.duck import connect
from pipeline.rollup.chunks import CHUNK_BUCKETS
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from tests.pipeline.rollup.gen import T0, point, write_metrics

SERIES = 12
HISTORY = 180  # minutes in the tier before the live steps
KEY = job_key("context", "metrics_1m", "Average")


def _minute(rng: random.Random, m: int, hosts: range) -> list[dict]:
    """Three raw points per series in minute ``m`` (a spike for host h3 in minute 200)."""
    out = []
    for h in hosts:
        for s in (5, 25, 45):
            v = 400.0 if (h == 3 and m == HISTORY + 20 and s == 25) else 20 + 2 * (h % 3) + rng.gauss(0, 0.3)
            out.append(point(T0 + timedelta(minutes=m, seconds=s), v, dims={"Host": f"h{h}"}))
    return out


def _live_lake(lake: Lake, settings: Settings) -> tuple[random.Random, DuckDBEngine]:
    rng = random.Random(7)
    write_metrics(lake, [p for m in range(HISTORY) for p in _minute(rng, m, range(SERIES))])
    engine = DuckDBEngine()
    run_rollups(lake, settings, engine)
    return rng, engine


def _anomaly_rows(lake: Lake) -> list[tuple]:
    con = connect(lake, ["anomalies"])
    return con.execute("SELECT series_id, epoch_ms(timestamp), score, is_anomaly FROM anomalies "
                       "ORDER BY 1, 2").fetchall()


def _one_pass(lake: Lake, end_s: float) -> list[tuple]:
    """The scores of one fresh detector per series over the whole tier (points before ``end_s``)."""
    out = []
    for sd in read_series(lake, "metrics_1m", "Average"):
        det = make_detector("context")
        for t, v in zip(sd.times, sd.values, strict=True):
            if t < end_s:
                sc = det.step(t, v)
                if sc.warm:
                    out.append((sd.series_id, int(t * 1000), sc.score, sc.score >= 0.5))
    return sorted(out)


def test_live_steps_read_what_changed_and_score_like_one_pass(lake: Lake, settings: Settings) -> None:
    rng, engine = _live_lake(lake, settings)
    first = detect(lake, table="metrics_1m", threshold=0.5, closed_only=True)
    assert first.rows_read == SERIES * (HISTORY - 1)  # a first start reads the history to warm up
    assert first.points == SERIES * (HISTORY - 1)  # the newest minute is still filling
    state, reads = first.checkpoint, []
    for m in range(HISTORY, HISTORY + 35):  # 35 live minutes: three 10-minute chunks settle
        # the last host is two minutes late: its points land after their minute was scored for the others
        late = _minute(rng, m - 2, range(SERIES - 1, SERIES)) if m >= HISTORY + 2 else []
        write_metrics(lake, _minute(rng, m, range(SERIES - 1)) + late)
        run_rollups(lake, settings, engine)
        res = detect(lake, table="metrics_1m", threshold=0.5, closed_only=True, state=state)
        state = res.checkpoint
        reads.append((res.read_files, res.rows_read, res.points))
    # every step reads the new minute's bucket files and, at most, a chunk rebuilt from them:
    # bounded by the chunk, never by the 3 hours of history (SERIES * HISTORY rows)
    bound = SERIES * (CHUNK_BUCKETS[60] + 3)
    assert all(rows <= bound for _, rows, _ in reads), reads
    assert all(files <= CHUNK_BUCKETS[60] + 3 for files, _, _ in reads), reads
    assert sum(r for _, r, _ in reads[-10:]) <= sum(r for _, r, _ in reads[:10]) + SERIES * CHUNK_BUCKETS[60]
    assert all(points >= SERIES - 1 for _, _, points in reads[1:])  # each closed minute of every series
    # the late host's points are scored too (each lands after its minute was scored for the others)
    assert state is not None and state.seq == 36
    end_s = max(v["last"] for v in state.series.values()) + 1
    late_sid = next(s for s in state.series if '"h11"' in s)
    assert state.series[late_sid]["last"] == end_s - 1 - 60  # a minute behind: its newest minute is M - 2
    got = _anomaly_rows(lake)
    assert got == _one_pass(lake, end_s)
    flagged = {r[1] for r in got if r[3] and '"h3"' in r[0]}
    assert int((T0 + timedelta(minutes=HISTORY + 20)).timestamp() * 1000) in flagged  # the live spike


def test_a_step_killed_before_its_checkpoint_is_redone_without_doubled_rows(lake: Lake, settings: Settings,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs import anomaly_checkpoint

    rng, engine = _live_lake(lake, settings)
    detect(lake, table="metrics_1m", threshold=0.5, closed_only=True)
    write_metrics(lake, _minute(rng, HISTORY, range(SERIES)) + _minute(rng, HISTORY + 1, range(SERIES)))
    run_rollups(lake, settings, engine)
    saved = anomaly_checkpoint.load(lake, KEY)

    def killed(*_a: object) -> None:
        raise KeyboardInterrupt("killed after the rows, before the checkpoint")

    monkeypatch.setattr(anomaly_checkpoint, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        detect(lake, table="metrics_1m", threshold=0.5, closed_only=True)
    monkeypatch.undo()
    assert anomaly_checkpoint.load(lake, KEY).seq == saved.seq  # the checkpoint is the old one
    crashed = _anomaly_rows(lake)
    # more data meanwhile; the next process redoes the step (and the new minute) from the checkpoint
    write_metrics(lake, _minute(rng, HISTORY + 2, range(SERIES)))
    run_rollups(lake, settings, engine)
    redo = detect(lake, table="metrics_1m", threshold=0.5, closed_only=True)
    rows = _anomaly_rows(lake)
    keys = [(r[0], r[1]) for r in rows]
    assert len(keys) == len(set(keys))  # no point twice
    assert set(crashed) < set(rows) and redo.points == 3 * SERIES  # minutes 179, 180 (again) and 181
    end_s = max(v["last"] for v in redo.checkpoint.series.values()) + 1
    assert rows == _one_pass(lake, end_s)


def test_a_filtered_follow_run_reads_every_file_and_keeps_the_file_set(lake: Lake, settings: Settings) -> None:
    rng, engine = _live_lake(lake, settings)
    detect(lake, table="metrics_1m", threshold=0.5, closed_only=True)
    write_metrics(lake, _minute(rng, HISTORY, range(SERIES)) + _minute(rng, HISTORY + 1, range(SERIES)))
    run_rollups(lake, settings, engine)
    narrow = detect(lake, table="metrics_1m", threshold=0.5, closed_only=True, namespace="App", metric="Latency")
    assert narrow.rows_read == SERIES * (HISTORY + 1)  # a filter: no file pruning (minute 181 is filling)
    assert narrow.points == 2 * SERIES  # … but only the minutes not scored yet (179 and 180)
    wide = detect(lake, table="metrics_1m", threshold=0.5, closed_only=True)
    assert wide.points == 0 and wide.rows_read <= SERIES * (CHUNK_BUCKETS[60] + 2)  # not the history
