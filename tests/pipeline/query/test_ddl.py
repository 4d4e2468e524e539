"""`watchlake ddl`: every table, the lake's column types, partitions that match the real folders."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest

from pipeline.query.ddl import create_statements
from tests.pipeline.query.ctdata import event, write_events


def _columns(stmt: str) -> list[str]:
    body = stmt[stmt.index("(\n") + 2: stmt.index("\n)")]
    return [line.strip().split(" ", 1)[0].strip('`"') for line in body.splitlines()]


@pytest.mark.parametrize("engine", ["athena", "trino", "spark"])
def test_columns_match_the_parquet_files(lake, engine):
    write_events(lake, [event("CreateUser", "2026-11-01T10:00:00Z")])
    ddl = create_statements(engine, "s3://bucket/lake")
    stmts = {m.group(1): m.group(0) for m in re.finditer(r"CREATE (?:EXTERNAL )?TABLE IF NOT EXISTS \S*?(\w+) "
                                                          r"\(\n.*?;\n", ddl, re.S)}
    assert {"cloudtrail", "metrics_raw", "logs", "records", "metrics_1m", "metrics_5m", "metrics_1h",
            "alarm_history", "anomalies", "insights", "findings"} <= set(stmts)
    file_cols = pq.read_schema(lake.path(lake.table_files("cloudtrail")[0])).names
    cols = _columns(stmts["cloudtrail"])
    expected = [c.lower() for c in file_cols] if engine == "trino" else file_cols
    assert cols[:len(file_cols)] == expected
    if engine == "athena":
        assert "PARTITIONED BY (`dt` STRING, `hour` STRING)" in stmts["cloudtrail"]
    else:
        assert cols[len(file_cols):] == ["dt", "hour"]


def test_type_spellings():
    a = create_statements("athena", "s3://b/l", tables=["cloudtrail", "metrics_1m"])
    assert "`eventTime` TIMESTAMP," in a and "`readOnly` BOOLEAN," in a
    assert "`userIdentity` STRUCT<type:STRING,principalId:STRING," in a
    assert "`sketch_bins` ARRAY<INT>," in a and "`sketch_bin_counts` ARRAY<DOUBLE>," in a
    t = create_statements("trino", "s3://b/l", tables=["cloudtrail"])
    assert '"eventtime" TIMESTAMP(3),' in t and "partitioned_by = ARRAY['dt', 'hour']" in t
    assert '"useridentity" ROW("type" VARCHAR, "principalId" VARCHAR' in t
    s = create_statements("spark", "/data/lake", tables=["records"])
    assert "LOCATION 'file:///data/lake/raw/records';" in s and "`data` BINARY" in s


def test_athena_projection_template_names_real_folders(lake):
    write_events(lake, [event("CreateUser", "2026-11-01T10:00:00Z")])
    ddl = create_statements("athena", lake.root, tables=["cloudtrail"])
    template = re.search(r"'storage.location.template' = '([^']+)'", ddl).group(1)
    folder = template.replace("${dt}", "2026-11-01").replace("${hour}", "10")
    assert lake.table_files("cloudtrail")[0].startswith(folder[len(lake.root) + 1:] + "/")
    assert "'projection.hour.digits' = '2'" in ddl and "note: Athena reads S3 only" in ddl


def test_cli_ddl(lake, capsys):
    from jobs.cli import main

    assert main(["--lake", str(lake.root), "ddl", "--engine", "trino", "--table", "logs"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE IF NOT EXISTS hive.watchlake.logs" in out and "sync_partition_metadata" in out
