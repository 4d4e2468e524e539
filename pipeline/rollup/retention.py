"""Retention: drop expired partitions of raw metrics and of each tier.

A partition expires when its whole time range ends at or before ``clock − keep``, where keep
is ``tiers.raw_days`` / ``m1_days`` / ``m5_days`` / ``h1_days`` and the clock is, per
``tiers.clock``, the data clock (the newest event time in the lake, so a replayed or
historical lake is not wiped) or the wall clock. Partitions are dropped whole, so data lives
at least ``keep`` and at most ``keep`` + one partition (a day, or a month for 1h); the expired
partitions of one table go in one atomic commit (:mod:`pipeline.lake.replace`).

Safety: a partition that a rollup job reads is never dropped before that job has built from
it (``state.consumed``); it is kept and reported instead. Together with the start-up check in
:func:`pipeline.tierchain.validate_tiers` this means retention never deletes data a higher tier still needs.
Raw CloudTrail is audit data and is not touched here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pipeline.lake import layout
from pipeline.lake.replace import replacing
from pipeline.rollup.state import STATE_PATH, consumed, data_clock, listing, load_state, save_state
from pipeline.rollup.tiers import JOBS, partition_range
from pipeline.tierchain import DAY
from pipeline.timeutil import to_utc, utcnow

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake

RETAINED_TABLES = ("metrics", "metrics_1m", "metrics_5m", "metrics_1h")


@dataclass(frozen=True)
class Expired:
    table: str
    folder: str
    end: datetime
    files: int
    bytes: int


@dataclass
class RetentionReport:
    clock: datetime | None
    clock_kind: str
    dry_run: bool
    dropped: list[Expired] = field(default_factory=list)
    kept: list[tuple[Expired, str]] = field(default_factory=list)   # (partition, reason)
    horizons: dict[str, datetime] = field(default_factory=dict)

    def by_table(self) -> dict[str, int]:
        out = {t: 0 for t in RETAINED_TABLES}
        for e in self.dropped:
            out[e.table] += 1
        return out


def keep_seconds(settings: Settings, table: str) -> int:
    t = settings.tiers
    return {"metrics": t.raw_days, "metrics_1m": t.m1_days, "metrics_5m": t.m5_days,
            "metrics_1h": t.h1_days}[table] * DAY


def apply_retention(lake: Lake, settings: Settings, *, now: datetime | None = None,
                    dry_run: bool = False) -> RetentionReport:
    """Drop (or with ``dry_run`` only list) every expired partition; see the module docstring."""
    kind = settings.tiers.clock
    clock = (to_utc(now) if now is not None else utcnow()) if kind == "wall" else data_clock(lake)
    report = RetentionReport(clock, kind, dry_run)
    if clock is None:
        return report
    state = load_state(lake)
    readers = {j.source: j.name for j in JOBS if j.kind != "activity"}
    changed = False
    for table in RETAINED_TABLES:
        horizon = clock - timedelta(seconds=keep_seconds(settings, table))
        report.horizons[table] = horizon
        expired: list[str] = []
        for folder, files in listing(lake, table).items():
            _lo, hi = partition_range(layout.parse_partition_path(table, folder))
            if hi > horizon:
                continue
            e = Expired(table, folder, hi, len(files), sum(f.size for f in files))
            reader = readers.get(table)
            if reader and not consumed(state, reader, folder):
                report.kept.append((e, f"not rolled up yet by {reader}"))
                continue
            report.dropped.append(e)
            expired.append(folder)
        if expired and not dry_run:
            _drop(lake, table, expired)
            for folder in expired:
                for job_state in state["jobs"].values():
                    changed |= job_state.pop(folder, None) is not None
    if changed and not dry_run and lake.exists(STATE_PATH):
        save_state(lake, state)
    return report


def _drop(lake: Lake, table: str, folders: list[str]) -> None:
    """Retire every file of ``folders`` in one atomic commit (a reader sees all of them or none),
    then remove the emptied folders."""
    with replacing(lake, table) as tx:
        for folder in folders:
            for f in tx.files(folder):
                tx.retire(f)
    for folder in folders:
        lake.delete(folder)
