"""The PyFlink anomaly job scores exactly like the library's detector run point by point."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.anomaly_job import detect
from jobs.anomaly_lake import SeriesData, read_series
from pipeline.anomaly import make_detector
from pipeline.query.duck import connect
from tests.pipeline.anomaly.rollup_fixture import write_rollups

REPO = Path(__file__).resolve().parents[2]
SAMPLE_METRICS = REPO / "sample_data" / "metrics"
NAB_FILES = ("realTraffic/speed_7578.csv", "realAdExchange/exchange-3_cpc_results.csv",
             "realKnownCause/rogue_agent_key_hold.csv", "realKnownCause/nyc_taxi.csv",
             "realKnownCause/ambient_temperature_system_failure.csv", "realTweets/Twitter_volume_AMZN.csv")


def nab_series(shared_data: Path) -> list[SeriesData]:
    """Real NAB series (timestamps as epoch seconds, the way read_series hands them over)."""
    out = []
    for rel in NAB_FILES:
        sd = SeriesData(f"NAB|{rel}", "NAB", rel, "{}", "None", 300)
        with open(shared_data / "nab-corpus" / "data" / rel) as fh:
            for row in csv.DictReader(fh):
                t = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC).timestamp()
                sd.times.append(t)
                sd.values.append(float(row["value"]))
        out.append(sd)
    return out


def sample_minutes() -> list[SeriesData]:
    """The committed Metric Streams sample as 1-minute Average series (sum / count per minute;
    a datapoint the stream delivered twice counts once, as in the lake)."""
    by_series: dict[tuple[str, str, str, str], dict[int, float]] = defaultdict(dict)
    for f in sorted(SAMPLE_METRICS.rglob("*.gz")):
        for line in gzip.decompress(f.read_bytes()).splitlines():
            d = json.loads(line)
            key = (d["namespace"], d["metric_name"], json.dumps(d["dimensions"], sort_keys=True), d["unit"])
            by_series[key].setdefault(d["timestamp"], d["value"]["sum"] / d["value"]["count"])
    out = []
    for (ns, name, dims, unit), pts in sorted(by_series.items()):
        sd = SeriesData(f"{ns}|{name}|{dims}|{unit}|Average", ns, name, dims, unit, 60)
        for t_ms in sorted(pts):
            sd.times.append(t_ms / 1000.0)
            sd.values.append(pts[t_ms])
        out.append(sd)
    return out


def library_scores(sd: SeriesData) -> list[tuple[object, ...]]:
    """The golden: a fresh library detector stepped over the series one point at a time."""
    det = make_detector()
    out = []
    for t, v in zip(sd.times, sd.values, strict=True):
        t_ms = int(round(t * 1000))
        sc = det.step(t_ms / 1000.0, v)
        out.append((t_ms, v, sc.score, sc.expected, sc.lower, sc.upper, sc.warm))
    return out


@pytest.mark.flink
@pytest.mark.slow
def test_scores_equal_the_library_on_real_nab_and_sample_metrics(tmp_path, shared_data) -> None:
    from jobs.flink_anomaly import score_inbox
    from jobs.flink_anomaly_io import read_out, write_inbox

    series = nab_series(shared_data) + sample_minutes()
    assert len(series) == 6 + 15
    for sd in series:  # every point is a distinct time of its series, so each is scored once
        assert len(set(sd.times)) == len(sd.times)
    fed = write_inbox(tmp_path / "inbox", series, seq=0)
    n = sum(len(sd.times) for sd in series)
    assert (fed.points, fed.skipped) == (n, 0)
    # one-hour windows: 1 to 60 points per Python call, the detector carried between windows
    score_inbox(str(tmp_path / "inbox"), str(tmp_path / "out"), window_s=3600)
    got: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    windows = 0
    for _, ws in read_out(tmp_path / "out"):
        for w in ws:
            windows += 1
            assert w["late"] == []
            got[w["sid"]].extend(zip(w["t"], w["v"], w["score"], w["expected"], w["lower"], w["upper"],
                                     w["warm"], strict=True))
    assert windows > 2 * len(series)
    flagged = 0
    for sd in series:
        mine = sorted(got[sd.series_id])
        gold = library_scores(sd)
        assert len(mine) == len(gold), sd.series_id
        assert mine == gold, sd.series_id  # bit-equal scores and bands, point by point
        flagged += sum(1 for r in gold if r[6] and r[2] >= 0.5)
    assert flagged > 0  # the comparison covers alerts, not only quiet points


@pytest.mark.flink
@pytest.mark.slow
def test_flink_and_python_engines_agree(lake) -> None:
    from jobs.flink_anomaly import run_flink

    write_rollups(lake, n=700, spike_at=600)
    flink = run_flink(lake)
    python = detect(lake)
    assert flink.points == python.points == 1400
    assert flink.rows == python.rows == 2 * (700 - 30)
    assert [(e.series.series_id, e.at, e.score) for e in flink.episodes] == \
        [(e.series.series_id, e.at, e.score) for e in python.episodes]
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
    # a second replay replaces its rows (the table does not double)
    again = run_flink(lake)
    assert again.rows == 1340
    n = con.execute("SELECT count(*) FROM read_parquet(?)",
                    [[lake.uri(f) for f in lake.table_files("anomalies")]]).fetchone()
    assert n is not None and n[0] == 2 * 1340


@pytest.mark.flink
@pytest.mark.parametrize("mode", ["process", "loopback"])
def test_worker_mode_is_decided_when_the_environments_are_created(mode: str) -> None:
    """``process`` really gives the job worker processes: PyFlink starts an in-process loopback
    server (and points the job at it through ``python.loopback-server.address``) when an
    environment is created unless the mode is ``process`` — so the mode must be set then."""
    from pyflink.common import Configuration
    from pyflink.util.java_utils import get_j_env_configuration

    from jobs.flink_anomaly import configure

    env, t_env = configure(1, workers=mode)
    key = "python.loopback-server.address"
    env_conf = Configuration(j_configuration=get_j_env_configuration(env._j_stream_execution_environment))
    addresses = [env_conf.get_string(key, ""), t_env.get_config().get(key, "")]
    if mode == "process":
        assert addresses == ["", ""]  # the TaskManager starts worker processes
    else:
        assert all(addresses)  # both environments point their jobs at this process
