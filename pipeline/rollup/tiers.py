"""Metric tiers, the rollup jobs that feed them, and the start-up validation of their settings.

Tiers (CloudWatch's): ``1m`` built from raw datapoints, ``5m`` from ``1m``, ``1h`` from ``5m``;
kept ``tiers.m1_days`` / ``m5_days`` / ``h1_days`` days. :func:`validate_tiers` refuses

* a tier whose period is not an exact multiple of its source's period (the buckets of the
  coarser tier would cut source buckets in two), and
* a retention that deletes source data a tier above still needs: a source must be kept for at
  least the recompute window plus one bucket of the tier built from it, or late data inside the
  window would rebuild buckets from a half-deleted source.

:func:`check_tier_settings` runs these checks on ``settings.tiers`` when settings load.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError
from pipeline.timeutil import shift, to_utc

if TYPE_CHECKING:
    from pipeline.config import TierSettings

DAY = 86400


@dataclass(frozen=True)
class Tier:
    """A rollup tier: name, bucket length, lake table, retention and its source tier."""

    name: str
    period: int
    table: str
    keep_seconds: int
    source: str  # "raw" or another tier's name


@dataclass(frozen=True)
class Job:
    """One rollup job writing one file (``part-<tag>.parquet``) per partition of ``target``.

    ``kind`` is ``raw`` (datapoints → buckets), ``activity`` (CloudTrail events → per-minute
    call counts) or ``merge`` (buckets → coarser buckets).
    """

    name: str
    kind: str
    source: str   # lake table read
    target: str   # lake table written
    period: int
    tag: str

    @property
    def file_name(self) -> str:
        return f"part-{self.tag}.parquet"


def tiers(s: TierSettings) -> list[Tier]:
    """The tiers configured by ``settings.tiers``, finest first."""
    return [
        Tier("1m", 60, "metrics_1m", s.m1_days * DAY, "raw"),
        Tier("5m", 300, "metrics_5m", s.m5_days * DAY, "1m"),
        Tier("1h", 3600, "metrics_1h", s.h1_days * DAY, "5m"),
    ]


JOBS: list[Job] = [
    Job("metrics→1m", "raw", "metrics", "metrics_1m", 60, "rollup"),
    Job("cloudtrail→1m", "activity", "cloudtrail", "metrics_1m", 60, "activity"),
    Job("1m→5m", "merge", "metrics_1m", "metrics_5m", 300, "rollup"),
    Job("5m→1h", "merge", "metrics_5m", "metrics_1h", 3600, "rollup"),
]
"""Every rollup job, in the order they must run (a job reads what the one before wrote)."""

TIER_OF_TABLE = {"metrics_1m": "1m", "metrics_5m": "5m", "metrics_1h": "1h"}


def validate_tiers(tier_list: list[Tier], *, raw_keep_seconds: int,
                   recompute_window_seconds: int) -> None:
    """Check periods and retentions of a tier chain (see the module docstring).

    Raises:
        ConfigError: naming the tier setting that is wrong.
    """
    by_name = {t.name: t for t in tier_list}
    for t in tier_list:
        if t.period <= 0 or DAY % t.period:
            raise ConfigError(f"tiers.{t.name}", "period must divide one day", t.period)
        if t.source == "raw":
            src_period, src_keep, src_key = 1, raw_keep_seconds, "tiers.raw_days"
        else:
            if t.source not in by_name:
                raise ConfigError(f"tiers.{t.name}", "unknown source tier", t.source)
            src = by_name[t.source]
            src_period, src_keep, src_key = src.period, src.keep_seconds, f"tiers.{_key(src)}"
            if t.period % src.period:
                raise ConfigError(f"tiers.{t.name}",
                                  f"period {t.period}s is not a multiple of its source "
                                  f"{src.name}'s {src.period}s", t.period)
        if t.period < src_period:
            raise ConfigError(f"tiers.{t.name}", "period is finer than its source", t.period)
        need = recompute_window_seconds + t.period
        if src_keep < need:
            raise ConfigError(src_key, f"keeps {src_keep}s of data, but tier {t.name} needs "
                              f"{need}s of it (recompute window + one {t.period}s bucket)",
                              src_keep // DAY)
        if t.keep_seconds < src_keep and t.source != "raw":
            raise ConfigError(f"tiers.{_key(t)}", f"tier {t.name} would expire before its "
                              f"source tier {t.source}", t.keep_seconds // DAY)


def _key(t: Tier) -> str:
    return {"1m": "m1_days", "5m": "m5_days", "1h": "h1_days"}.get(t.name, t.name)


def check_tier_settings(s: TierSettings) -> None:
    """Validate ``settings.tiers`` as a chain (called from ``TierSettings.validate``)."""
    window = s.recompute_window_minutes * 60
    validate_tiers(tiers(s), raw_keep_seconds=s.raw_days * DAY, recompute_window_seconds=window)
    if s.raw_highres_hours * 3600 < window + 60:
        raise ConfigError("tiers.raw_highres_hours",
                          f"high-resolution raw data is kept {s.raw_highres_hours} h, less than "
                          f"the recompute window + 1 min ({window // 60 + 1} min)", s.raw_highres_hours)


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
