"""The Flink anomaly stage keeps one streaming job running, survives a stop/restart through its
savepoint, and writes exactly the rows the DuckDB engine's anomaly stage writes (one per point)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jobs.anomaly_job import detect
from jobs.anomaly_lake import SeriesData
from pipeline.lake import Lake
from pipeline.query.duck import connect
from pipeline.rollup.schema import ROLLUP
from tests.jobs.test_flink_anomaly import sample_minutes

WINDOW_S, LATENESS_S = 300, 60


def write_minutes(lake: Lake, series: list[SeriesData], lo: int, hi: int) -> int:
    """Points ``lo..hi-1`` of each series as ``metrics_1m`` rows (one sample each, so the Average
    is the value); returns the newest time written (epoch ms)."""
    cols: dict[str, list[object]] = {n: [] for n in ROLLUP.names}
    newest = 0
    for sd in series:
        for t, v in zip(sd.times[lo:hi], sd.values[lo:hi], strict=True):
            row = {"_wl_series_id": sd.series_id, "namespace": sd.namespace, "metric_name": sd.metric_name,
                   "dimensions": sd.dimensions, "unit": sd.unit, "timestamp": datetime.fromtimestamp(t, UTC),
                   "period": 60, "sample_count": 1.0, "sum": v, "min": v, "max": v, "sketch_bins": [],
                   "sketch_bin_counts": [], "sketch_count": 0.0}
            for k, val in row.items():
                cols[k].append(val)
            newest = max(newest, int(t * 1000))
    table = pa.Table.from_pydict(cols, schema=ROLLUP)
    days = pc.strftime(table["timestamp"], format="%Y-%m-%d")
    for day in sorted(set(days.to_pylist())):
        lake.write_partition("metrics_1m", {"dt": day}, table.filter(pc.equal(days, day)))
    return newest


def rows(lake: Lake, flink: bool) -> list[tuple[object, ...]]:
    files = [lake.uri(f) for f in lake.table_files("anomalies") if f.endswith("-flink.parquet") == flink]
    if not files:
        return []
    con = connect(lake, [])
    return con.execute("SELECT series_id, epoch_ms(timestamp), value, score, expected, lower, upper, is_anomaly "
                       "FROM read_parquet(?) ORDER BY 1, 2", [files]).fetchall()


def scored_until(newest_ms: int) -> int:
    """Points before this time are in windows the watermark (newest − lateness − 1 ms) closed."""
    wm = newest_ms - LATENESS_S * 1000 - 1
    return (wm - WINDOW_S * 1000 + 1) // (WINDOW_S * 1000) * (WINDOW_S * 1000) + WINDOW_S * 1000


def step_until(stage: object, done: Callable[[], bool], timeout: float = 180) -> int:
    """Step until ``done``; returns the points the steps rejected."""
    deadline = time.monotonic() + timeout
    rejected = 0
    while not done():
        assert time.monotonic() < deadline, "the Flink stage did not catch up in time"
        rep = stage.step()  # type: ignore[attr-defined]
        assert not rep.error, rep.error
        rejected += rep.rejected
        time.sleep(0.5)
    return rejected


@pytest.mark.flink
@pytest.mark.slow
def test_stage_streams_restarts_and_equals_the_duckdb_engine(lake, settings, tmp_path) -> None:
    from jobs.run.flink_anomaly_stage import FlinkAnomalyStage

    series, newcomer = sample_minutes()[:3], sample_minutes()[3]
    kw = dict(work_dir=tmp_path / "work", window_s=WINDOW_S, lateness_s=LATENESS_S, monitor_s=0.5,
              checkpoint_ms=500)
    stage = FlinkAnomalyStage(lake, settings, **kw)  # type: ignore[arg-type]

    def caught_up(newest: int) -> Callable[[], bool]:
        cut = scored_until(newest)  # the first 30 points of a series are warm-up (no row)
        want = sum(max(0, sum(1 for t in sd.times if int(t * 1000) < cut) - 30) for sd in series)
        return lambda: len(rows(lake, True)) >= want

    try:
        newest = write_minutes(lake, series, 0, 600)
        step_until(stage, caught_up(newest))
        newest = write_minutes(lake, series, 600, 900)
        # a series first seen now, with 10 points of history the watermark has long passed:
        # they cannot be windowed any more, so they are reported as rejected, not fed
        write_minutes(lake, [newcomer], 0, 10)
        assert step_until(stage, caught_up(newest)) == 10
        kept = [json.loads(line) for f in lake.table_files("errors")
                for line in gzip.decompress(lake.read_bytes(f)).splitlines()]
        assert len(kept) == 10 and {r["source"] for r in kept} == {"anomalies"}  # kept with their reason
        assert all(newcomer.series_id in r["origin"] and "not fed" in r["reason"] for r in kept)
        stop = stage.close()
        assert stop is not None and not stop.error
        # a new stage (a restarted `watchlake run`) resumes from the savepoint: no point rescored
        stage = FlinkAnomalyStage(lake, settings, **kw)  # type: ignore[arg-type]
        newest = write_minutes(lake, series, 900, 1200)
        step_until(stage, caught_up(newest))
        assert stage.started_from is not None and "savepoint" in stage.started_from
    finally:
        stage.close()
    flink = rows(lake, True)
    assert len({(r[0], r[1]) for r in flink}) == len(flink)  # each point once (upserts, not appends)
    detect(lake, table="metrics_1m")  # the DuckDB engine's anomaly stage, one pass over it all
    cut = scored_until(newest)
    python = [r for r in rows(lake, False) if r[1] < cut]
    assert len(python) == sum(sum(1 for t in sd.times if int(t * 1000) < cut) - 30 for sd in series) > 3000
    assert flink == python  # bit-equal, and nothing past the watermark was scored


def test_consumed_inbox_files_are_retired_an_hour_behind_the_newest_checkpoint(lake, settings, tmp_path) -> None:
    import os

    from jobs.run.flink_anomaly_stage import INBOX_RETENTION_S, FlinkAnomalyStage

    stage = FlinkAnomalyStage(lake, settings, work_dir=tmp_path / "work")
    stage.inbox.mkdir(parents=True)
    assert stage.retire_inbox() == 0  # no checkpoint yet: nothing is known to be consumed
    now = time.time()
    for name, age in (("points-000000000000.csv", INBOX_RETENTION_S + 120),
                      ("points-000000000001.csv", INBOX_RETENTION_S - 120), ("points-000000000002.csv", 0)):
        f = stage.inbox / name
        f.write_text("s,1,1.0\n")
        os.utime(f, (now - age, now - age))
    assert stage.retire_inbox() == 0  # still no checkpoint
    meta = stage.work / "checkpoints" / "job" / "chk-7" / "_metadata"
    meta.parent.mkdir(parents=True)
    meta.write_bytes(b"x")
    os.utime(meta, (now, now))
    assert stage.retire_inbox() == 1
    assert sorted(p.name for p in stage.inbox.iterdir()) == ["points-000000000001.csv", "points-000000000002.csv"]
