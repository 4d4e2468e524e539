"""The retention job: ``watchlake retention apply`` (see :mod:`pipeline.rollup.retention`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.console import human_bytes
from pipeline.rollup.retention import RetentionReport, apply_retention
from pipeline.timeutil import iso

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake


def retention(lake: Lake, settings: Settings, *, now: datetime | None = None,
              dry_run: bool = False) -> RetentionReport:
    """Apply (or with ``dry_run`` list) retention on raw metrics and every tier."""
    return apply_retention(lake, settings, now=now, dry_run=dry_run)


def summary_lines(report: RetentionReport) -> dict[str, str]:
    verb = "would drop" if report.dry_run else "dropped"
    lines = {"clock": f"{report.clock_kind} clock, "
                      f"{iso(report.clock) if report.clock else '(no data: nothing to do)'}"}
    for table, n in report.by_table().items():
        gone = [e for e in report.dropped if e.table == table]
        horizon = report.horizons.get(table)
        lines[table] = (f"{verb} {n} partitions ({sum(e.files for e in gone)} files, "
                        f"{human_bytes(sum(e.bytes for e in gone))})"
                        + (f", keeps data after {iso(horizon)}" if horizon else ""))
    if report.kept:
        lines["kept"] = f"{len(report.kept)} expired partitions not rolled up yet"
    return lines
