"""Run the rollup jobs incrementally, idempotently and atomically.

For each job (:data:`pipeline.rollup.tiers.JOBS`, in order) and each target partition:

* **unchanged** — the source files' fingerprint equals the one recorded at the last build:
  nothing to do. Rerunning a rollup therefore never rewrites or duplicates anything.
* **build** — first build, or the sources changed: the buckets at or after the *cutoff*
  ``floor(clock − tiers.recompute_window_minutes, period)`` are recomputed from the sources;
  buckets before it are kept as they are (late data older than the window does not change a
  published bucket). The partition's file ``part-…-<tag>.parquet`` is replaced in one atomic
  commit (:mod:`pipeline.lake.replace`), so a reader sees the old or the new partition, never a
  mix and never duplicates.
* **late** — the sources changed but the whole partition is older than the cutoff: skipped and
  reported (``--full`` rebuilds it).

``full=True`` rebuilds every partition from its sources, but never buckets older than the
source tier's retention (their sources may be partly deleted).

The clock is the data clock (:func:`pipeline.rollup.state.data_clock`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.lake import layout
from pipeline.rollup import percentiles
from pipeline.rollup.engine import Engine, Task
from pipeline.rollup.schema import ROLLUP, ROW_GROUP_ROWS, SORT_KEYS
from pipeline.rollup.state import data_clock, fingerprint, listing, load_state, save_state
from pipeline.rollup.tiers import JOBS, Job, partition_range, target_partition
from pipeline.tierchain import DAY, parse_percentiles
from pipeline.timeutil import ceil, floor

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake


@dataclass
class JobReport:
    job: str
    target: str
    built: list[str] = field(default_factory=list)
    unchanged: int = 0
    late: list[str] = field(default_factory=list)
    rows: int = 0
    rows_in: int = 0
    seconds: float = 0.0


@dataclass
class RollupReport:
    engine: str
    clock: datetime | None
    jobs: list[JobReport] = field(default_factory=list)
    seconds: float = 0.0

    def rows_by_table(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for j in self.jobs:
            out[j.target] += j.rows
        return dict(out)


def _source_keep(settings: Settings, job: Job) -> int:
    t = settings.tiers
    return {"metrics": t.raw_days, "cloudtrail": 36500, "metrics_1m": t.m1_days,
            "metrics_5m": t.m5_days}[job.source] * DAY


def _job_files(lake: Lake, job: Job, folder: str) -> list[str]:
    """The files ``job`` wrote in a target partition folder (``part-…-<tag>.parquet``)."""
    return [f for f in lake.table_files(job.target, folder) if f.endswith(f"-{job.tag}.parquet")]


def _write(lake: Lake, task: Task, job: Job, rows: pa.Table, keep_before: datetime | None) -> int:
    """Replace ``task``'s partition file with ``rows`` plus the kept rows older than
    ``keep_before``, in one atomic commit (:mod:`pipeline.lake.replace`); returns the rows
    written (an empty result removes the file)."""
    from pipeline.lake.replace import replacing

    with replacing(lake, job.target) as tx:
        mine = [f for f in tx.files(task.folder) if f.endswith(f"-{job.tag}.parquet")]
        sort_by = None  # the engine's rows are in SORT_KEYS order already
        if keep_before is not None:
            for rel in mine:
                old = tx.read(rel, ROLLUP)
                kept = old.filter(pc.less(old["timestamp"], pa.scalar(keep_before, ROLLUP.field("timestamp").type)))
                if kept.num_rows:
                    rows, sort_by = pa.concat_tables([kept, rows]), SORT_KEYS
        for rel in mine:
            tx.retire(rel)
        if rows.num_rows:
            tx.add(task.values, rows, tag=job.tag, sort_by=sort_by, row_group_size=ROW_GROUP_ROWS)
    return rows.num_rows


def run_job(lake: Lake, settings: Settings, engine: Engine, job: Job, state: dict,
            clock: datetime, *, full: bool = False,
            progress: Callable[[str], None] | None = None) -> JobReport:
    """Run one job over every target partition whose sources changed (see module docstring)."""
    t0 = time.perf_counter()
    report = JobReport(job.name, job.target)
    sources = listing(lake, job.source)
    groups: dict[str, tuple[dict[str, str], list[str]]] = {}
    for folder in sources:
        values = target_partition(job, layout.parse_partition_path(job.source, folder))
        tfolder = layout.partition_path(job.target, values)
        groups.setdefault(tfolder, (values, []))[1].append(folder)
    job_state: dict = state["jobs"].setdefault(job.name, {})
    window = timedelta(minutes=settings.tiers.recompute_window_minutes)
    if full:
        cutoff = ceil(clock - timedelta(seconds=_source_keep(settings, job)), job.period)
    else:
        cutoff = floor(clock - window, job.period)
    tasks: list[tuple[Task, dict[str, str], datetime | None]] = []
    patterns = parse_percentiles(settings.tiers.percentiles)
    for tfolder, (values, folders) in sorted(groups.items()):
        fps = {folder: fingerprint(sources[folder]) for folder in folders}
        exists = bool(_job_files(lake, job, tfolder))
        recorded = job_state.get(tfolder, {}).get("sources", {})
        # sources that disappeared (retention) do not count as a change
        if exists and not full and all(recorded.get(f) == fp for f, fp in fps.items()):
            report.unchanged += 1
            continue
        lo, hi = partition_range(values)
        keep_before: datetime | None = None
        if exists and cutoff > lo:
            if hi <= cutoff:
                if not full:
                    report.late.append(tfolder)
                continue
            lo, keep_before = cutoff, cutoff
        files = [f for folder in folders for f in sources[folder]]
        task = Task(tfolder, values, tuple(lake.uri(f.rel) for f in files), lo, hi, patterns)
        tasks.append((task, {**recorded, **fps}, keep_before))
    by_folder = {t.folder: (fps, kb) for t, fps, kb in tasks}
    saved = time.perf_counter()
    for task, rows in engine.compute(job, [t for t, *_ in tasks]):
        fps, keep_before = by_folder[task.folder]
        rows = percentiles.strip(rows, patterns)  # whatever the engine built
        report.rows_in += rows.num_rows
        report.rows += _write(lake, task, job, rows, keep_before)
        job_state[task.folder] = {"sources": fps}
        report.built.append(task.folder)
        if time.perf_counter() - saved > 5:  # a crash re-does at most ~5 s of (idempotent) work
            save_state(lake, state)
            saved = time.perf_counter()
        if progress:
            progress(f"{job.name} {task.folder.rsplit('/', 1)[-1]}: {rows.num_rows:,} rows")
    if tasks:
        save_state(lake, state)
    report.seconds = time.perf_counter() - t0
    return report


def run_rollups(lake: Lake, settings: Settings, engine: Engine, *, full: bool = False,
                jobs: list[Job] | None = None,
                progress: Callable[[str], None] | None = None) -> RollupReport:
    """Run every rollup job in order; returns what each built. Safe to rerun at any time."""
    t0 = time.perf_counter()
    clock = data_clock(lake)
    report = RollupReport(engine.name, clock)
    if clock is None:
        return report
    state = load_state(lake)
    for job in jobs or JOBS:
        report.jobs.append(run_job(lake, settings, engine, job, state, clock, full=full,
                                   progress=progress))
    report.seconds = time.perf_counter() - t0
    return report
