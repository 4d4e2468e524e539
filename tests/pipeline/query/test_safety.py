"""The SQL console refuses writes, outside files and path tricks; time bounds are found."""

from __future__ import annotations

import os

import pytest

from pipeline.errors import QueryError
from pipeline.query.duck import run_query
from tests.pipeline.query.ctdata import event, write_events


@pytest.fixture(scope="module")
def ct_lake(tmp_path_factory):
    from pipeline.lake import Lake

    lake = Lake(tmp_path_factory.mktemp("safety") / "lake")
    write_events(lake, [event("CreateUser", "2026-11-01T10:00:00Z"),
                        event("ListUsers", "2026-11-02T11:00:00Z", read_only=True),
                        event("DeleteUser", "2026-11-03T12:30:00Z")])
    return lake


@pytest.mark.parametrize("sql", [
    "CREATE TABLE x AS SELECT 1",
    "INSERT INTO cloudtrail SELECT * FROM cloudtrail",
    "DELETE FROM cloudtrail",
    "DROP VIEW cloudtrail",
    "COPY (SELECT 1) TO 'out.csv'",
    "COPY cloudtrail TO '{lake}/raw/cloudtrail/evil.parquet'",
    "EXPORT DATABASE 'x'",
    "ATTACH 'x.db' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "CALL pragma_version()",
    "UPDATE cloudtrail SET eventName = 'x'",
    "SELECT 1; DROP VIEW cloudtrail",
    "EXPLAIN COPY (SELECT 1) TO 'x.csv'",
    "CHECKPOINT",
])
def test_writes_and_side_effects_are_refused(ct_lake, sql):
    with pytest.raises(QueryError):
        run_query(ct_lake, sql.format(lake=ct_lake.root))
    assert not os.path.exists("out.csv") and not os.path.exists("x.db")


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('{lake}/../outside/*.parquet')",
    "SELECT * FROM read_text('{lake}/raw/../../secret.txt')",
    "SELECT * FROM read_text('~/.bashrc')",
    "SELECT * FROM read_text('file:///etc/passwd')",
    "SELECT * FROM read_text('http://127.0.0.1/x')",
    "SELECT * FROM read_text(['{lake}/raw/x', '/etc/passwd'])",
    "SELECT * FROM read_text('/etc/' || 'passwd')",
    "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
    "SELECT getenv('HOME')",
    "SELECT * FROM '/etc/passwd'",
])
def test_reads_outside_the_lake_are_refused(ct_lake, sql, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    with pytest.raises(QueryError):
        run_query(ct_lake, sql.format(lake=ct_lake.root))


def test_symlink_out_of_the_lake_is_refused(ct_lake, tmp_path):
    (tmp_path / "secret.txt").write_text("top secret")
    os.symlink(tmp_path / "secret.txt", os.path.join(ct_lake.root, "link.txt"))
    with pytest.raises(QueryError, match="outside the lake"):
        run_query(ct_lake, f"SELECT content FROM read_text('{ct_lake.root}/link.txt')")


def test_reads_inside_the_lake_are_allowed(ct_lake):
    r = run_query(ct_lake, f"SELECT count(*) AS n FROM read_parquet('{ct_lake.root}/raw/cloudtrail/**/*.parquet')")
    assert r.rows() == [(3,)]


def test_duckdb_layer_blocks_even_without_parser_layer(ct_lake, tmp_path):
    """Layer 2 alone: a locked connection cannot read outside files or unlock itself."""
    import duckdb

    from pipeline.query import catalog, safety

    (tmp_path / "secret.csv").write_text("a\n1\n")
    con = duckdb.connect()
    catalog.build(con, ct_lake)
    safety.lock_down(con, ct_lake.root)
    assert con.execute("SELECT count(*) FROM cloudtrail").fetchone() == (3,)
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM read_csv('{tmp_path}/secret.csv')")
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")


def test_syntax_error_reports_position(ct_lake):
    with pytest.raises(QueryError):
        run_query(ct_lake, "SELEC 1")


def test_default_bound_is_applied_and_stated(ct_lake):
    r = run_query(ct_lake, "SELECT eventName FROM cloudtrail", default_bound_hours=24)
    # newest partition is 2026-11-03 hour 12 → window [11-02T13:00, 11-03T13:00): only DeleteUser
    assert r.rows() == [("DeleteUser",)]
    assert any("no time bound on cloudtrail" in n and "2026-11-02T13:00:00Z" in n for n in r.notes)
    assert run_query(ct_lake, "SELECT count(*) FROM cloudtrail", default_bound_hours=None).rows() == [(3,)]


@pytest.mark.parametrize("where,expected", [
    ("eventTime >= TIMESTAMP '2026-11-01'", 3),
    ("eventTime >= '2026-11-02' AND eventTime < '2026-11-03'", 1),
    ("eventTime BETWEEN '2026-11-01 09:00' AND '2026-11-02 12:00'", 2),
    ("dt = '2026-11-01'", 1),
    ("dt >= '2026-11-02'", 2),
    ("'2026-11-03' <= eventTime", 1),
])
def test_explicit_bounds_are_respected_without_note(ct_lake, where, expected):
    r = run_query(ct_lake, f"SELECT count(*) FROM cloudtrail WHERE {where}")
    assert r.rows() == [(expected,)]
    assert r.notes == []


def test_bounded_query_only_opens_partitions_in_window(ct_lake):
    from pipeline.query import catalog

    w = catalog.Window(*[__import__("pipeline.timeutil", fromlist=["parse_time"]).parse_time(t)
                         for t in ("2026-11-02T00:00:00Z", "2026-11-02T23:59:59Z")])
    files = catalog.files_in_window(ct_lake, "cloudtrail", w)
    assert [f.split("/")[2:4] for f in files] == [["dt=2026-11-02", "hour=11"]]


def test_or_bound_is_not_a_bound(ct_lake):
    r = run_query(ct_lake, "SELECT count(*) FROM cloudtrail WHERE eventTime >= '2026-11-01' OR eventName = 'x'")
    assert r.notes and r.rows() == [(1,)]


def test_truncation_is_stated(ct_lake):
    r = run_query(ct_lake, "SELECT eventName FROM cloudtrail WHERE dt >= '2026-11-01'", max_rows=2)
    assert r.truncated and len(r.rows()) == 2 and any("truncated" in n for n in r.notes)
