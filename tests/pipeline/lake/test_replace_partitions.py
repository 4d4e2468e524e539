"""The day partition of a timestamp column (``utc_days`` / ``day_partitions``, replace_rows's
``partition_of``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.lake.replace import day_partitions, utc_days


def test_utc_days_match_strftime_and_python() -> None:
    """The date cast gives the day text strftime and Python's own datetime give (the oracles),
    before 1970, at midnight and a millisecond before it, and far ahead."""
    rng = random.Random(5)
    ms = [-86_400_001, -1, 0, 86_399_999, 86_400_000] + [rng.randrange(-10**12, 4 * 10**12) for _ in range(2000)]
    ts = pa.array(ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    days = utc_days(ts).to_pylist()
    assert days == pc.strftime(ts, format="%Y-%m-%d").to_pylist()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert days == [(epoch + timedelta(milliseconds=m)).strftime("%Y-%m-%d") for m in ms]
    assert days[:5] == ["1969-12-30", "1969-12-31", "1970-01-01", "1970-01-01", "1970-01-02"]
    assert day_partitions("anomalies/dt=", ts[:1]).to_pylist() == ["anomalies/dt=1969-12-30"]
