"""Write a small ``metrics_5m`` rollup table (the rollups team's schema) for anomaly tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from pipeline.lake import Lake
from pipeline.rollup.schema import ROLLUP

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def series_values(n: int, seed: int, level: float, spike_at: int | None) -> list[float]:
    rng = random.Random(seed)
    vals = [level + rng.gauss(0, level * 0.05) for _ in range(n)]
    if spike_at is not None:
        vals[spike_at] = level * 4
    return vals


def write_rollups(lake: Lake, n: int = 1500, start: int = 0, spike_at: int | None = 1200,
                  ) -> dict[str, list[float]]:
    """Two EC2 CPU series of 5-minute Average values; rows ``start..n-1`` are written.

    Returns the full value lists by instance id (values[i] is stamped T0 + 5 min · i).
    """
    out = {"i-aaa": series_values(n, 1, 40.0, spike_at), "i-bbb": series_values(n, 2, 10.0, None)}
    cols: dict[str, list] = {name: [] for name in ROLLUP.names}
    for inst, vals in out.items():
        for i in range(start, n):
            ts = T0 + timedelta(minutes=5 * i)
            row = {"_wl_series_id": f"AWS/EC2|CPUUtilization|{inst}", "namespace": "AWS/EC2",
                   "metric_name": "CPUUtilization", "dimensions": f'{{"InstanceId":"{inst}"}}',
                   "unit": "Percent", "timestamp": ts, "period": 300, "sample_count": 5.0,
                   "sum": vals[i] * 5, "min": vals[i] - 1, "max": vals[i] + 1, "sketch_bins": [],
                   "sketch_bin_counts": [], "sketch_count": 0.0}
            for k, v in row.items():
                cols[k].append(v)
    table = pa.Table.from_pydict(cols, schema=ROLLUP)
    days = sorted({t.strftime("%Y-%m-%d") for t in cols["timestamp"]})
    import pyarrow.compute as pc

    for day in days:
        part = table.filter(pc.equal(pc.strftime(table["timestamp"], format="%Y-%m-%d"), day))
        lake.write_partition("metrics_5m", {"dt": day}, part)
    return out
