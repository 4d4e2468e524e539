"""Every view exists on an empty lake and reads the tables' files once they exist."""

from __future__ import annotations

import gzip
import json

import duckdb
import pyarrow as pa

from pipeline.query import catalog
from pipeline.query.duck import connect, run_query
from pipeline.schemas import LOGS
from tests.pipeline.query.ctdata import event, write_events

VIEWS = ["cloudtrail", "metrics_raw", "metrics_1m", "metrics_5m", "metrics_1h", "logs", "records",
         "alarm_state", "alarm_history", "anomalies", "insights", "findings", "rejected"]


def test_all_views_exist_on_an_empty_lake(lake):
    con = duckdb.connect()
    time_cols = catalog.build(con, lake)
    assert sorted(time_cols) == sorted(VIEWS)
    for v in VIEWS:
        assert con.execute(f'SELECT count(*) FROM "{v}"').fetchone() == (0,)
    cols = [r[0] for r in con.execute("DESCRIBE cloudtrail").fetchall()]
    assert cols[:3] == ["eventVersion", "userIdentity", "eventTime"] and cols[-2:] == ["dt", "hour"]
    assert time_cols["cloudtrail"] == "eventTime" and time_cols["logs"] == "timestamp"


def test_views_read_files_and_state(lake):
    write_events(lake, [event("CreateUser", "2026-11-01T10:00:00Z")])
    write_events(lake, [event("CloudTrailInsight", "2026-11-01T10:00:00Z", eventType="AwsCloudTrailInsight")],
                 table="insights")
    lake.write_partition("logs", {"dt": "2026-11-01", "hour": "10"}, pa.Table.from_pylist([
        {"logGroup": "/aws/lambda/f", "logStream": "s1", "id": "1", "message": "hello",
         "timestamp": __import__("datetime").datetime(2026, 11, 1, 10, tzinfo=__import__("datetime").UTC)}],
        schema=LOGS))
    rec = {"source": "cloudtrail", "origin": "f.json.gz:3", "line": 3, "field": "eventTime",
           "reason": "not a time", "raw": "{}", "rejected_at": "2026-11-01T10:00:00Z"}
    lake.write_bytes("errors/cloudtrail/dt=2026-11-01/part-x.jsonl.gz",
                     gzip.compress((json.dumps(rec) + "\n").encode()))
    lake.write_json("alarms/state.json", {"cpu-high": {"state_value": "ALARM", "state_reason": "t"}})
    r = run_query(lake, "SELECT (SELECT count(*) FROM cloudtrail WHERE dt >= '2026-11-01') AS ct, "
                        "(SELECT count(*) FROM insights) AS ins, (SELECT max(message) FROM logs "
                        "WHERE timestamp >= '2026-11-01') AS msg, (SELECT any_value(reason) FROM rejected) AS rej, "
                        "(SELECT any_value(state_value) FROM alarm_state WHERE alarm_name = 'cpu-high') AS st")
    assert r.rows() == [(1, 1, "hello", "not a time", "ALARM")]


def test_connect_keeps_working_for_other_teams(lake):
    write_events(lake, [event("CreateUser", "2026-11-01T10:00:00Z")])
    con = connect(lake)
    assert con.execute("SELECT count(*) FROM cloudtrail").fetchone() == (1,)


def test_cli_sql_formats(lake, tmp_path, capsys, monkeypatch):
    import io

    from jobs.cli import main

    write_events(lake, [event("CreateUser", "2026-11-01T10:00:00Z"), event("DeleteUser", "2026-11-01T10:05:00Z")])
    base = ["--lake", str(lake.root), "sql"]
    q = "SELECT eventName, userIdentity.userName AS who FROM cloudtrail ORDER BY eventTime"
    assert main(base + [q, "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == [{"eventName": "CreateUser", "who": "alice"},
                                   {"eventName": "DeleteUser", "who": "alice"}]
    assert "no time bound on cloudtrail" in out.err
    assert main(base + [q, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["eventName,who", "CreateUser,alice", "DeleteUser,alice"]
    pq_file = tmp_path / "o.parquet"
    assert main(base + [q, "--format", "parquet", "--output", str(pq_file)]) == 0
    assert __import__("pyarrow.parquet", fromlist=["x"]).read_table(pq_file).num_rows == 2
    assert main(base + [q]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["CreateUser", "alice"]
    assert main(base + ["DROP VIEW cloudtrail"]) == 2
    assert "refused" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT count(*) AS n\n FROM cloudtrail;\nDELETE FROM x;\n.quit\n"))
    assert main(base) == 0
    out = capsys.readouterr()
    assert out.out.split()[-1] == "2" and "refused" in out.err
