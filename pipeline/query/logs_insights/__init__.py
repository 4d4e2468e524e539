"""CloudWatch Logs Insights queries over the lake's ``cloudtrail`` and ``logs`` views.

>>> from pipeline.query.logs_insights import to_sql
>>> print(to_sql('stats count(*) as n by eventSource', source='cloudtrail').splitlines()[-1])
SELECT "__c1" AS "eventSource", "__c2" AS "n" FROM s1 ORDER BY "__c1" ASC NULLS LAST LIMIT 10000

The query is parsed (:mod:`.parser`), translated to one DuckDB SELECT (:mod:`.translate`) and run
through the same read-only runner as ``watchlake sql`` (:func:`pipeline.query.duck.run_query`),
so a query without ``start`` gets the default time bound, stated in the result's notes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.query.logs_insights.parser import parse
from pipeline.query.logs_insights.translate import SOURCES, translate

if TYPE_CHECKING:
    from pipeline.lake import Lake
    from pipeline.query.duck import QueryResult

__all__ = ["SOURCES", "parse", "run_insights", "to_sql", "translate"]


def to_sql(query: str, *, source: str = "cloudtrail", start: datetime | None = None,
           end: datetime | None = None, max_rows: int = 10_000) -> str:
    """The DuckDB SQL for a Logs Insights ``query``; raises QueryError pointing at bad syntax."""
    return translate(parse(query), query, source, start=start, end=end, max_rows=max_rows)


def run_insights(lake: Lake, query: str, *, source: str = "cloudtrail", start: datetime | None = None,
                 end: datetime | None = None, max_rows: int = 10_000,
                 default_bound_hours: int | None = 24) -> QueryResult:
    """Run a Logs Insights query on the lake (both ends of ``[start, end]`` inclusive, as
    StartQuery's are)."""
    from pipeline.query.duck import run_query

    sql = to_sql(query, source=source, start=start, end=end, max_rows=max_rows)
    result = run_query(lake, sql, default_bound_hours=default_bound_hours, max_rows=max_rows)
    result.notes = [n.split(" (add a WHERE")[0] + " (give a start time to choose the range)"
                    if "(add a WHERE" in n else n for n in result.notes]
    return result
