"""anomalies detect: replay and follow over metrics_5m; idempotent replay; same scores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.anomaly_job import detect
from jobs.anomaly_lake import read_series
from pipeline.anomaly import DEFAULT_DETECTOR, make_detector
from pipeline.errors import QueryError
from pipeline.query.duck import connect
from tests.pipeline.anomaly.rollup_fixture import T0, write_rollups


def _rows(lake):
    con = connect(lake, ["anomalies"])
    return con.execute("SELECT series_id, epoch_ms(timestamp), value, score, expected, "
                       "is_anomaly FROM anomalies ORDER BY 1, 2").fetchall()


def test_replay_finds_the_spike_and_is_idempotent(lake) -> None:
    vals = write_rollups(lake)
    start = T0 + timedelta(hours=24)
    res = detect(lake, start=start)
    assert res.series == 2 and res.points == 3000
    rows = _rows(lake)
    assert len(rows) == res.rows == 2 * (1500 - 288)
    flagged = [r for r in rows if r[5]]
    spike_ms = int((T0 + timedelta(minutes=5 * 1200)).timestamp() * 1000)
    assert any(r[1] == spike_ms and "i-aaa" in r[0] for r in flagged)
    assert len(flagged) <= 4
    # the value column is the Average (sum / sample_count) of the rollup
    first = next(r for r in rows if "i-aaa" in r[0])
    assert first[2] == pytest.approx(vals["i-aaa"][288])
    again = detect(lake, start=start)
    assert again.rows == res.rows and _rows(lake) == rows


def test_follow_in_two_steps_equals_one_pass(lake) -> None:
    write_rollups(lake, n=1000, spike_at=None)
    first = detect(lake)
    write_rollups(lake, n=1500, start=1000, spike_at=None)
    second = detect(lake)
    assert first.points == 2000 and second.points == 1000  # only new points the second time
    rows = _rows(lake)
    vals = write_rollups.__globals__["series_values"](1500, 1, 40.0, None)
    det = make_detector()  # the job's default detector, in one pass
    expect = [det.step((T0 + timedelta(minutes=5 * i)).timestamp(), v) for i, v in enumerate(vals)]
    got = [r[3] for r in rows if "i-aaa" in r[0]]
    assert got == [s.score for s in expect if s.warm]


def test_bad_arguments_and_empty_lake(lake) -> None:
    with pytest.raises(QueryError, match="metrics_1h"):
        list(read_series(lake, "metrics_1h"))
    with pytest.raises(QueryError, match="p99"):
        list(read_series(lake, "metrics_5m", "p99"))
    assert detect(lake).series == 0


@pytest.mark.slow
def test_demo_stages(lake, settings) -> None:
    from jobs.demo import Demo
    from jobs.demo.anomaly import anomaly_stage, insights_stage

    demo = Demo(lake=lake, settings=settings, quiet=True)
    assert anomaly_stage(demo).skipped
    write_rollups(lake)
    out = anomaly_stage(demo)
    assert out.table == "metrics_5m" and out.average is not None and out.sums is not None
    assert (out.average.series, out.sums.series, out.average.points + out.sums.points) == (2, 0, 3000)
    # the real sample CloudTrail (read from sample_data): both labelled scenarios are found
    ins = insights_stage(demo)
    assert ins.scenarios["access_denied_burst"] and ins.scenarios["api_call_rate_spike"]
    assert lake.table_files("insights")


def test_unit_filter_and_sum_statistic(lake) -> None:
    write_rollups(lake, n=400, spike_at=None)
    assert detect(lake, units=["Count"]).series == 0
    res = detect(lake, stat="Sum", units=["Percent"], start=T0)
    assert res.series == 2
    con = connect(lake, ["anomalies"])
    stat, value = con.execute("SELECT stat, value FROM anomalies WHERE series_id LIKE '%i-aaa%' "
                              "ORDER BY timestamp LIMIT 1").fetchone()
    vals = write_rollups.__globals__["series_values"](400, 1, 40.0, None)
    assert stat == "Sum" and value == pytest.approx(5 * vals[30])  # first warm point, 5 samples


def test_filtered_replay_keeps_other_series(lake) -> None:
    import pyarrow as pa

    from jobs.anomaly_job import job_key
    from jobs.anomaly_lake import write_rows
    from pipeline.anomaly.table import ANOMALIES

    write_rollups(lake, n=400, spike_at=None)
    full = detect(lake, start=T0)
    rows = _rows(lake)
    aaa = next(r[0] for r in rows if "i-aaa" in r[0])
    # a replay that saw only i-aaa, from hour 10 on, and produced a single row
    t = T0 + timedelta(hours=12)
    one = {n: [None] for n in ANOMALIES.names}
    one.update(series_id=[aaa], timestamp=[t], value=[1.0], score=[0.0], is_anomaly=[False])
    write_rows(lake, job_key(DEFAULT_DETECTOR, "metrics_5m", "Average"),
           pa.Table.from_pydict(one, schema=ANOMALIES), (T0 + timedelta(hours=10), None),
           series={aaa})
    after = _rows(lake)
    assert [r for r in after if "i-bbb" in r[0]] == [r for r in rows if "i-bbb" in r[0]]
    cut = int((T0 + timedelta(hours=10)).timestamp() * 1000)
    kept = [r for r in rows if r[0] == aaa and r[1] < cut]
    new = (aaa, int(t.timestamp() * 1000), 1.0, 0.0, None, False)
    assert [r for r in after if r[0] == aaa] == [*kept, new]
    assert full.rows == len(rows)


def test_a_saved_state_that_cannot_be_restored_starts_that_series_afresh(lake) -> None:
    """A damaged (or foreign) saved state must not stop the follow job: that series gets a fresh
    detector after its last scored point, the run names it, and the other series carry on."""
    from jobs import anomaly_checkpoint as ckpt
    from jobs.anomaly_job import job_key

    write_rollups(lake, n=1000, spike_at=None)
    first = detect(lake)
    key = job_key(DEFAULT_DETECTOR, "metrics_5m", "Average")
    cp = ckpt.load(lake, key)
    bad = next(s for s in cp.series if "i-aaa" in s)
    good = next(s for s in cp.series if s != bad)
    del cp.series[bad]["det"]["mv"]["bag"][0]["calib"]  # a state cut short
    ckpt.save(lake, key, cp)
    write_rollups(lake, n=1500, start=1000, spike_at=None)
    second = detect(lake)
    assert first.reset == [] and len(second.reset) == 1
    assert second.reset[0].startswith(bad) and "calib" in second.reset[0]
    assert second.points == 1000  # only new points, for both series
    rows = _rows(lake)

    def ms(i: int) -> int:
        return int((T0 + timedelta(minutes=5 * i)).timestamp() * 1000)

    # the fresh detector warms up again (30 points, no rows); the other series scores on at once
    assert min(r[1] for r in rows if r[0] == bad and r[1] >= ms(1000)) == ms(1030)
    assert min(r[1] for r in rows if r[0] == good and r[1] >= ms(1000)) == ms(1000)


def test_a_point_the_detector_raises_on_is_kept_and_the_run_goes_on(lake, monkeypatch) -> None:
    """A detector that raises (a defect, injected here at one point of one series) must not stop the
    job: that point is kept in errors/anomalies/ with the exception, counted, and a fresh detector
    scores the series' later points; the other series is untouched."""
    import gzip
    import json

    from pipeline.anomaly.context import ContextDetector

    write_rollups(lake, n=1000, spike_at=None)
    at = (T0 + timedelta(minutes=5 * 500)).timestamp()
    real, raised = ContextDetector.step, []

    def step(self, t, x):  # the first series to reach point 500 raises there, once
        if t == at and not raised:
            raised.append(t)
            raise ValueError("cannot convert float NaN to integer")
        return real(self, t, x)

    monkeypatch.setattr(ContextDetector, "step", step)
    res = detect(lake)
    assert res.series == 2 and res.points == 1999 and len(res.rejected) == 1  # in = scored + rejected
    sid, t_ms, _, reason = res.rejected[0]
    assert t_ms == int(at * 1000) and "ValueError: cannot convert float NaN to integer" in reason
    assert len(res.reset) == 1 and res.reset[0].startswith(sid)
    rows = _rows(lake)
    mine = [r[1] for r in rows if r[0] == sid]
    other = [r[1] for r in rows if r[0] != sid]
    assert len(other) == 1000 - 30 and int(at * 1000) not in mine
    assert min(t for t in mine if t > int(at * 1000)) == int(at * 1000) + 31 * 300_000  # warms up anew
    files = lake.table_files("errors")
    kept = [json.loads(line) for f in files for line in gzip.decompress(lake.read_bytes(f)).splitlines()]
    assert [(r["source"], r["reason"]) for r in kept] == [("anomalies", reason)]
    assert kept[0]["origin"].startswith(f"metrics_5m {sid} ")
