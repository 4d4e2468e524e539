"""The query layer on an s3:// lake (moto server on 127.0.0.1): views, pruning, safety."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.errors import QueryError
from pipeline.lake import Lake
from pipeline.query.duck import run_query
from pipeline.query.investigations import run_investigation
from pipeline.query.logs_insights import run_insights
from tests.conftest import moto_server
from tests.pipeline.query.ctdata import event, write_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_lake() -> Iterator[Lake]:
    import boto3

    with moto_server() as url:
        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="lake")
        lake = Lake("s3://lake/wl", endpoint_url=url)
        write_events(lake, [event("CreateUser", "2026-11-01T10:00:00Z"),
                            event("DeleteUser", "2026-11-02T10:00:00Z", error="AccessDenied")])
        yield lake


def test_sql_on_s3(s3_lake):
    r = run_query(s3_lake, "SELECT eventName, dt FROM cloudtrail WHERE eventTime >= '2026-11-02' ORDER BY 1")
    assert r.rows() == [("DeleteUser", "2026-11-02")]
    assert run_query(s3_lake, "SELECT count(*) FROM cloudtrail", default_bound_hours=None).rows() == [(2,)]


def test_investigation_and_insights_on_s3(s3_lake):
    r = run_investigation(s3_lake, "principal_activity", {"principal": "alice", "start": "2026-11-01"})
    assert sorted(r.table.column("eventName").to_pylist()) == ["CreateUser", "DeleteUser"]
    from datetime import UTC, datetime

    li = run_insights(s3_lake, "filter ispresent(errorCode) | stats count(*) as n",
                      start=datetime(2026, 11, 1, tzinfo=UTC))
    assert li.rows() == [(1,)]


def test_outside_files_refused_on_s3(s3_lake):
    with pytest.raises(QueryError):
        run_query(s3_lake, "SELECT * FROM read_text('/etc/passwd')")
    with pytest.raises(QueryError):
        run_query(s3_lake, "SELECT * FROM read_parquet('s3://other-bucket/x.parquet')")
