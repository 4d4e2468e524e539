"""Logs Insights ``parse`` globs on real-shaped Lambda log lines: every ``*`` is non-greedy (AWS
documents it so), a trailing ``*`` takes the rest of the line.

The REPORT lines follow the format AWS Lambda writes (tab-separated fields); the expected values
are read off the lines by eye."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipeline.query.logs_insights import run_insights
from pipeline.schemas import LOGS

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 2, tzinfo=UTC)
LINES = [
    "START RequestId: 8f5a3c1e-1111-4b7e-9a7e-3f1c2d4e5f60 Version: $LATEST",
    "REPORT RequestId: 8f5a3c1e-1111-4b7e-9a7e-3f1c2d4e5f60\tDuration: 14.5 ms\tBilled Duration: 15 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 71 MB",
    "REPORT RequestId: 0b9d7e2a-2222-4c1d-8e3f-5a6b7c8d9e01\tDuration: 105.5 ms\tBilled Duration: 106 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 73 MB\tInit Duration: 180.25 ms",
    "END RequestId: 0b9d7e2a-2222-4c1d-8e3f-5a6b7c8d9e01",
]


@pytest.fixture(scope="module")
def lambda_lake(tmp_path_factory):
    from pipeline.lake import Lake

    lake = Lake(tmp_path_factory.mktemp("li-parse") / "lake")
    rows = [{"owner": "111122223333", "logGroup": "/aws/lambda/orders", "logStream": "2026/11/01/[$LATEST]abc",
             "id": str(i), "timestamp": datetime(2026, 11, 1, 10, 0, i, tzinfo=UTC), "message": m,
             "ingestionTime": datetime(2026, 11, 1, 10, 0, i, tzinfo=UTC)} for i, m in enumerate(LINES)]
    lake.write_partition("logs", {"dt": "2026-11-01", "hour": "10"}, pa.Table.from_pylist(rows, schema=LOGS))
    return lake


def q(lake, query: str) -> list[tuple]:
    return run_insights(lake, query, source="logs", start=START, end=END).rows()


def test_star_stops_at_the_first_following_literal(lambda_lake):
    rows = q(lambda_lake, 'parse @message "Duration: * ms" as dur | filter ispresent(dur) '
                          "| fields dur | sort @timestamp asc")
    assert rows == [("14.5",), ("105.5",)]


def test_average_of_a_parsed_duration(lambda_lake):
    # (14.5 + 105.5) / 2 = 60.0; a greedy star would capture "14.5 ms\tBilled Duration: 15" → NULL
    assert q(lambda_lake, 'parse @message "Duration: * ms" as dur | stats avg(dur) as avg_ms') == [(60.0,)]


def test_several_stars_each_take_their_own_field(lambda_lake):
    rows = q(lambda_lake, 'parse @message "Billed Duration: * ms\tMemory Size: * MB\tMax Memory Used: * MB" '
                          "as billed, size, used | filter ispresent(billed) | fields billed, size, used "
                          "| sort @timestamp asc")
    assert rows == [("15", "128", "71"), ("106", "128", "73")]


def test_a_trailing_star_takes_the_rest_of_the_line(lambda_lake):
    rows = q(lambda_lake, 'parse @message "END RequestId: *" as rid | filter ispresent(rid) | fields rid')
    assert rows == [("0b9d7e2a-2222-4c1d-8e3f-5a6b7c8d9e01",)]
