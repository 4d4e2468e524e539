"""The PyFlink streaming job gives the same scores as the Python engine (one JVM start)."""

from __future__ import annotations

import pytest

from jobs.anomaly_job import detect, read_series
from pipeline.query.duck import connect
from tests.pipeline.anomaly.rollup_fixture import write_rollups


@pytest.mark.flink
@pytest.mark.slow
def test_flink_and_python_engines_agree(lake) -> None:
    from jobs.flink_anomaly import run_flink

    write_rollups(lake, n=700, spike_at=600)
    flink = run_flink(lake)
    python = detect(lake)
    assert flink.points == python.points == 1400
    assert flink.rows == python.rows == 2 * (700 - 30)
    con = connect(lake, ["anomalies"])
    rows = con.execute(
        "SELECT series_id, timestamp, value, score, expected, lower, upper, is_anomaly, "
        "filename LIKE '%-flink.parquet' AS from_flink FROM read_parquet(?, filename = true) "
        "ORDER BY from_flink, series_id, timestamp",
        [[lake.uri(f) for f in lake.table_files("anomalies")]]).fetchall()
    py_rows = [r[:8] for r in rows if not r[8]]
    fl_rows = [r[:8] for r in rows if r[8]]
    assert len(py_rows) == len(fl_rows) == 1340
    assert fl_rows == py_rows  # bit-identical scores and bands
    assert any(r[7] for r in fl_rows)  # the spike at point 600 was flagged
    # the job read exactly what the Python path reads
    assert sum(len(s.times) for s in read_series(lake)) == 1400
