"""The rollup jobs that feed the metric tiers, and the time ranges of the tier partitions.

Tiers (CloudWatch's): ``1m`` built from raw datapoints, ``5m`` from ``1m``, ``1h`` from ``5m``;
kept ``tiers.m1_days`` / ``m5_days`` / ``h1_days`` days. The chain is validated when settings
load (:func:`pipeline.tierchain.validate_tiers`, which lives with the settings so that the
configuration never imports the rollup package); it refuses

* a tier whose period is not an exact multiple of its source's period (the buckets of the
  coarser tier would cut source buckets in two), and
* a retention that deletes source data a tier above still needs: a source must be kept for at
  least the recompute window plus one bucket of the tier built from it, or late data inside the
  window would rebuild buckets from a half-deleted source.

"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipeline.timeutil import shift, to_utc


@dataclass(frozen=True)
class Job:
    """One rollup job writing one file (``part-…-<tag>.parquet``) per partition of ``target``.

    ``kind`` is ``raw`` (datapoints → buckets), ``activity`` (CloudTrail events → per-minute
    call counts) or ``merge`` (buckets → coarser buckets).
    """

    name: str
    kind: str
    source: str   # lake table read
    target: str   # lake table written
    period: int
    tag: str


JOBS: list[Job] = [
    Job("metrics→1m", "raw", "metrics", "metrics_1m", 60, "rollup"),
    Job("cloudtrail→1m", "activity", "cloudtrail", "metrics_1m", 60, "activity"),
    Job("1m→5m", "merge", "metrics_1m", "metrics_5m", 300, "rollup"),
    Job("5m→1h", "merge", "metrics_5m", "metrics_1h", 3600, "rollup"),
]
"""Every rollup job, in the order they must run (a job reads what the one before wrote)."""

TIER_OF_TABLE = {"metrics_1m": "1m", "metrics_5m": "5m", "metrics_1h": "1h"}


# -- partitions of the tier tables ------------------------------------------------------------

def target_partition(job: Job, source_values: dict[str, str]) -> dict[str, str]:
    """The target partition a source partition feeds (``dt`` → ``dt`` or ``month``)."""
    dt = source_values["dt"]
    return {"month": dt[:7]} if job.target == "metrics_1h" else {"dt": dt}


def partition_range(values: dict[str, str]) -> tuple[datetime, datetime]:
    """Half-open UTC time range ``[lo, hi)`` covered by a ``dt``, ``dt+hour`` or ``month`` partition."""
    if "month" in values:
        y, m = (int(x) for x in values["month"].split("-"))
        lo = to_utc(datetime(y, m, 1))
        return lo, shift(lo, timedelta(days=calendar.monthrange(y, m)[1]))
    d = date.fromisoformat(values["dt"])
    lo = to_utc(datetime(d.year, d.month, d.day))
    if "hour" in values:
        lo = shift(lo, timedelta(hours=int(values["hour"])))
        return lo, shift(lo, timedelta(hours=1))
    return lo, shift(lo, timedelta(days=1))
