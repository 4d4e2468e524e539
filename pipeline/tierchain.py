"""The metric tier chain (1m → 5m → 1h) and the ``tiers.percentiles`` patterns: validated with the
settings (:class:`pipeline.config.TierSettings`) and built on by the rollup jobs and retention.

A core module of its own so that configuration and the rollup package both use it without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pipeline.errors import ConfigError


class TierValues(Protocol):
    """The ``[tiers]`` settings the chain is built from (:class:`pipeline.config.TierSettings`)."""

    raw_highres_hours: int
    raw_days: int
    m1_days: int
    m5_days: int
    h1_days: int
    recompute_window_minutes: int


DAY = 86400


@dataclass(frozen=True)
class Tier:
    """A rollup tier: name, bucket length, lake table, retention and its source tier."""

    name: str
    period: int
    table: str
    keep_seconds: int
    source: str  # "raw" or another tier's name


def tiers(s: TierValues) -> list[Tier]:
    """The tiers configured by ``settings.tiers``, finest first."""
    return [
        Tier("1m", 60, "metrics_1m", s.m1_days * DAY, "raw"),
        Tier("5m", 300, "metrics_5m", s.m5_days * DAY, "1m"),
        Tier("1h", 3600, "metrics_1h", s.h1_days * DAY, "5m"),
    ]


def validate_tiers(tier_list: list[Tier], *, raw_keep_seconds: int,
                   recompute_window_seconds: int) -> None:
    """Check periods and retentions of a tier chain: refuses a tier whose period is not an exact
    multiple of its source's (coarser buckets would cut source buckets in two), and a retention
    that deletes source data a tier above still needs (a source must be kept for at least the
    recompute window plus one bucket of the tier built from it).

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


def check_tier_settings(s: TierValues) -> None:
    """Validate ``settings.tiers`` as a chain (called from ``TierSettings.validate``)."""
    window = s.recompute_window_minutes * 60
    validate_tiers(tiers(s), raw_keep_seconds=s.raw_days * DAY, recompute_window_seconds=window)
    if s.raw_highres_hours * 3600 < window + 60:
        raise ConfigError("tiers.raw_highres_hours",
                          f"high-resolution raw data is kept {s.raw_highres_hours} h, less than "
                          f"the recompute window + 1 min ({window // 60 + 1} min)", s.raw_highres_hours)


Patterns = tuple[str, ...] | None
"""``None``: every namespace keeps sketches; ``()``: none does; else the namespace patterns."""


def parse_percentiles(text: str, *, key: str = "tiers.percentiles") -> Patterns:
    """The patterns of a ``tiers.percentiles`` value (raises :class:`ConfigError` on a bad one)."""
    items = [p.strip() for p in text.split(",")]
    if [p for p in items if p] == [] or text.strip().lower() == "none":
        return ()
    if any(not p for p in items):
        raise ConfigError(key, "empty pattern in the comma-separated list", text)
    if "*" in items:
        return None
    return tuple(items)
