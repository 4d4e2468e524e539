"""Expected values computed independently of ``dashboards``: polars over the fixture inputs."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from tests.dashboards.lakegen import FixtureLake

TIME = {"cloudtrail": "eventTime", "metrics": "timestamp", "logs": "timestamp",
        "records": "approximateArrivalTimestamp"}


def frame(fx: FixtureLake, table: str) -> pl.DataFrame:
    return pl.from_arrow(getattr(fx, table))  # type: ignore[return-value]


def newest(fx: FixtureLake) -> datetime:
    return max(frame(fx, t)[c].max() for t, c in TIME.items())  # type: ignore[type-var]


def window(fx: FixtureLake, hours: float | None = 24) -> tuple[datetime, datetime]:
    """A preset range: ends at the newest data rounded up to the next whole minute."""
    n = newest(fx)
    end = n.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if hours is None:
        oldest = min(frame(fx, t)[c].min() for t, c in TIME.items())  # type: ignore[type-var]
        return oldest.replace(second=0, microsecond=0), end
    return end - timedelta(hours=hours), end


def in_window(fx: FixtureLake, table: str, start: datetime, end: datetime) -> pl.DataFrame:
    f = frame(fx, table)
    c = TIME[table]
    return f.filter((pl.col(c) >= start) & (pl.col(c) < end))


def ct(fx: FixtureLake, start: datetime, end: datetime) -> pl.DataFrame:
    """CloudTrail rows in the window with a ``principal`` column (ARN, user, id, service, type)."""
    f = in_window(fx, "cloudtrail", start, end)
    u = pl.col("userIdentity").struct
    return f.with_columns(pl.coalesce(u.field("arn"), u.field("userName"), u.field("principalId"),
                                      u.field("invokedBy"), u.field("type")).alias("principal"))


def fmt(n: int) -> str:
    return f"{n:,}"
