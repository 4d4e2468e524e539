"""The read-only console stays inside the lake, in time and in memory (issue #16, item 9)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.errors import QueryError
from pipeline.lake import Lake
from pipeline.query import safety
from pipeline.query.duck import run_query


@pytest.fixture
def secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file in DuckDB's default temp folder (./.tmp) of the working folder, outside the lake."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir(exist_ok=True)
    p = tmp_path / ".tmp" / "secret.csv"
    p.write_text("token\nhunter2\n")
    return p


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('.tmp/secret.csv')",
    "SELECT * FROM read_text(['/etc/hostname'])",
    "SELECT * FROM read_text(['{lake}/raw/x.json', '/etc/hostname'])",
    "SELECT * FROM '/etc/hostname.csv'",
    "SELECT * FROM '.tmp/secret.csv'",
    "SELECT * FROM read_text('{lake}/*/../../.tmp/secret.csv')",
    "SELECT * FROM read_text('{lake}/**/../../../etc/hostname')",
])
def test_every_path_form_outside_the_lake_is_refused(secret: Path, lake: Lake, sql: str) -> None:
    with pytest.raises(QueryError, match="outside the lake"):
        run_query(lake, sql.format(lake=lake.root))


def test_duckdb_switches_hold_even_without_the_parser_check(secret: Path, lake: Lake) -> None:
    con = duckdb.connect()
    safety.lock_down(con, lake.root, memory_limit_mib=256)
    with pytest.raises(duckdb.PermissionException):
        con.execute("SELECT * FROM read_csv('.tmp/secret.csv')").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("SET temp_directory = '.tmp'")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "256.0 MiB"


def test_a_query_inside_the_lake_still_runs(secret: Path, lake: Lake) -> None:
    os.makedirs(lake.path("raw/notes"), exist_ok=True)
    Path(lake.path("raw/notes/a.csv")).write_text("x\n1\n2\n")
    res = run_query(lake, f"SELECT sum(x) AS s FROM read_csv('{lake.root}/raw/notes/*.csv')")
    assert res.table.column("s").to_pylist() == [3]


def test_statement_timeout_interrupts_an_endless_query(lake: Lake) -> None:
    t0 = time.monotonic()
    with pytest.raises(QueryError, match=r"stopped after 1 s \(query.timeout_seconds\)"):
        run_query(lake, "SELECT sum(hash(i)) FROM range(1000000000000) t(i)", timeout_seconds=1)
    assert time.monotonic() - t0 < 15


def test_memory_limit_stops_a_huge_aggregate(lake: Lake) -> None:
    with pytest.raises(QueryError, match=r"more than 64 MiB \(query.memory_limit_mib\)"):
        run_query(lake, "SELECT length(string_agg(i::VARCHAR, ',')) FROM range(2000000000) t(i)",
                  memory_limit_mib=64, timeout_seconds=60)


def test_the_dashboard_console_has_the_same_limits(secret: Path, lake: Lake) -> None:
    from dashboards.lakedb import LakeDB
    from dashboards.queries.investigate import run_sql

    db = LakeDB(lake)
    out = run_sql(db, "SELECT * FROM read_text(['/etc/hostname'])", 24, 100)
    assert out["table"] is None and "outside the lake" in out["error"]
    out = run_sql(db, "SELECT * FROM read_csv('.tmp/secret.csv')", 24, 100)
    assert out["table"] is None and "outside the lake" in out["error"]
    out = run_sql(db, "SELECT sum(hash(i)) FROM range(1000000000000) t(i)", 24, 100, timeout_seconds=1)
    assert out["error"].startswith("query stopped after 1 s")


def test_cli_sql_reads_the_limits_from_settings(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from jobs.cli import main

    monkeypatch.setenv("WATCHLAKE__QUERY__TIMEOUT_SECONDS", "1")
    assert main(["--lake", lake.root, "sql", "SELECT sum(hash(i)) FROM range(1000000000000) t(i)"]) == 2
    assert "query stopped after 1 s (query.timeout_seconds)" in capsys.readouterr().err
