"""Run the rollup jobs incrementally, idempotently and atomically.

Once a lake has been rolled up, every run is one bucket-level step of
:mod:`pipeline.rollup.incremental` (only the buckets new or vanished source files touch are
recomputed). The partition path below is the first build, ``--full``, and runs of single jobs.

For each job (:data:`pipeline.rollup.tiers.JOBS`, in order) and each target partition:

* **unchanged** — the source files' fingerprint equals the one recorded at the last build:
  nothing to do. Rerunning a rollup therefore never rewrites or duplicates anything.
* **build** — first build, or the sources changed: the buckets at or after the *cutoff*
  ``floor(clock − tiers.recompute_window_minutes, period)`` are recomputed from the sources;
  buckets before it are kept as they are (late data older than the window does not change a
  published bucket). The job's files holding those buckets (:mod:`pipeline.rollup.chunks`) are
  replaced in one atomic commit (:mod:`pipeline.lake.replace`), so a reader sees the old or the
  new buckets, never a mix and never duplicates.
* **late** — the sources changed but the whole partition is older than the cutoff: skipped and
  reported (``--full`` rebuilds it).

``full=True`` rebuilds every partition from its sources, but never buckets older than the
source tier's retention (their sources may be partly deleted).

The clock is the data clock (:func:`pipeline.rollup.state.data_clock`).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.lake import layout
from pipeline.rollup import chunks, incremental, percentiles
from pipeline.rollup.carry import Carry
from pipeline.rollup.commits import Commits
from pipeline.rollup.engine import Engine, Task
from pipeline.rollup.state import data_clock, fingerprint, load_state, save_state
from pipeline.rollup.tiers import JOBS, Job, partition_range, target_partition
from pipeline.tierchain import DAY, parse_percentiles
from pipeline.timeutil import ceil, epoch_ms, floor

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
    cpu_seconds: float = 0.0  # CPU time of this process (all threads) while the job ran


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


def _job_files(lake: Lake, job: Job, folder: str, values: dict[str, str]) -> list[str]:
    """The files ``job`` wrote in a target partition folder (:mod:`pipeline.rollup.chunks`)."""
    return [f for f in lake.table_files(job.target, folder) if chunks.file_range(job, f, values) is not None]


def _write(lake: Lake, task: Task, job: Job, rows: pa.Table, clock: datetime, closed: datetime,
           kept: Carry | None, commits: Commits, record: Callable[[], None]) -> int:
    """Replace ``job``'s rows of ``task``'s partition in ``[task.lo, task.hi)`` with ``rows`` (the
    other rows kept), in one atomic commit (:mod:`pipeline.lake.replace`) made by ``commits`` in
    the background (``record`` called once it is made); returns the rows written. A partition
    ending at or before ``closed`` (the recompute cutoff, ``--full`` or not) is written as one
    file, as the incremental step lays out closed partitions (:mod:`pipeline.rollup.settle`).
    The files added and retired are recorded in ``kept`` when handed over."""
    from pipeline.lake.replace import open_commit

    written: dict[str, pa.Table | None] | None = {} if kept is not None else None
    tx = open_commit(lake, job.target)
    try:
        n = chunks.replace_runs(tx, job, task.folder, task.values, [(epoch_ms(task.lo), epoch_ms(task.hi))],
                                rows, epoch_ms(clock), cutoff_ms=epoch_ms(closed), written=written)
    except BaseException:
        tx.abort()
        raise
    if kept is not None and written is not None:
        kept.record(job.target, written)
    commits.submit(job.target, tx, record)
    return n


def run_job(lake: Lake, settings: Settings, engine: Engine, job: Job, state: dict,
            clock: datetime, commits: Commits, *, full: bool = False,
            progress: Callable[[str], None] | None = None, kept: Carry | None = None) -> JobReport:
    """Run one job over every target partition whose sources changed (see module docstring).
    ``commits`` makes its writes in the background (:mod:`pipeline.rollup.commits`): the job
    plans from the source listing as it will be once the earlier jobs' commits are made, and
    records a partition's state once its commit is made (the caller waits for the last ones).
    ``kept``: the files earlier jobs of this run wrote, still in memory (a merge task whose
    source files are all there merges those tables instead of reading the files); this job's
    writes are recorded there too."""
    t0, c0 = time.perf_counter(), time.process_time()
    report = JobReport(job.name, job.target)
    sources, touched = commits.listing(job.source)
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
    tasks: list[tuple[Task, dict[str, str | None]]] = []
    patterns = parse_percentiles(settings.tiers.percentiles)
    for tfolder, (values, folders) in sorted(groups.items()):
        # a folder an earlier commit of the run is writing has changed; its fingerprint is taken once written
        fps: dict[str, str | None] = {f: None if f in touched else fingerprint(sources[f]) for f in folders}
        exists = bool(_job_files(lake, job, tfolder, values))
        recorded = job_state.get(tfolder, {}).get("sources", {})
        # sources that disappeared (retention) do not count as a change
        if exists and not full and all(fp is not None and recorded.get(f) == fp for f, fp in fps.items()):
            report.unchanged += 1
            continue
        lo, hi = partition_range(values)
        if exists and cutoff > lo:
            if hi <= cutoff:
                if not full:
                    report.late.append(tfolder)
                continue
            lo = cutoff
        files = [f.rel for folder in folders for f in sources[folder]]
        in_memory = None
        if job.kind == "merge":
            files = chunks.in_time_order(files)
            in_memory = kept.rows(job.source, files) if kept is not None else None
        closes = floor(clock - window, job.period)
        # the files the rows go to, when none are there to merge with (a first build) or the
        # partition is closed (one file): the engine puts each file's rows in one sorted run
        shape = (chunks.layout(job.period, epoch_ms(clock), values, closed=hi <= closes)
                 if not exists or hi <= closes else None)
        ready = partial(commits.wait, job.source) if touched else None  # before reading the files
        task = Task(tfolder, values, tuple(lake.uri(f) for f in files), lo, hi, patterns, in_memory, shape, ready)
        tasks.append((task, {**recorded, **fps}))
    by_folder = {t.folder: fps for t, fps in tasks}
    if not getattr(engine, "merges_rows", False) and any(t.ready for t, _ in tasks):
        commits.wait(job.source)  # an engine that reads every source file
    saved = time.perf_counter()
    for task, rows in engine.compute(job, [t for t, _ in tasks]):
        rows = percentiles.strip(rows, patterns)  # whatever the engine built
        report.rows_in += rows.num_rows
        report.rows += _write(lake, task, job, rows, clock, floor(clock - window, job.period), kept, commits,
                              partial(_record, commits, job, job_state, task.folder, by_folder[task.folder]))
        report.built.append(task.folder)
        if time.perf_counter() - saved > 5:  # a crash re-does at most ~5 s of (idempotent) work
            commits.settle()
            save_state(lake, state)
            saved = time.perf_counter()
        if progress:
            progress(f"{job.name} {task.folder.rsplit('/', 1)[-1]}: {rows.num_rows:,} rows")
    report.seconds, report.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    return report


def _record(commits: Commits, job: Job, job_state: dict, folder: str, fps: dict[str, str | None]) -> None:
    """Record that ``job`` built target ``folder`` from sources of fingerprints ``fps`` (those
    ``None``, written by this run, are taken now: call once their commits are made)."""
    todo = [f for f, fp in fps.items() if fp is None]
    job_state[folder] = {"sources": {**fps, **commits.fingerprints(job.source, todo)} if todo else fps}


def run_rollups(lake: Lake, settings: Settings, engine: Engine, *, full: bool = False,
                jobs: list[Job] | None = None,
                progress: Callable[[str], None] | None = None, defer_seconds: float = 0.0,
                late_seconds: float = 0.0) -> RollupReport:
    """Run every rollup job in order; returns what each built. Safe to rerun at any time.

    Once a lake has been rolled up (the incremental state exists), a run is one incremental
    step (:mod:`pipeline.rollup.incremental`): only buckets whose sources changed are recomputed.
    ``full=True``, a subset of ``jobs``, or a lake without that state take the partition path
    above; a run of every job then records the incremental state for the next steps. On that
    path a merge job gets the files the jobs before it wrote in this call as the tables written
    (:mod:`pipeline.rollup.carry`), when its engine can use them (``merges_rows``), instead of
    reading them back.
    ``defer_seconds`` (live steps) lets the coarser tiers wait for their source buckets to close,
    at most that long (:meth:`pipeline.rollup.incremental.Step.merge_job`); ``late_seconds`` lets
    the 1m buckets of late data wait and go together (:meth:`~pipeline.rollup.incremental.Step._hold`)."""
    t0 = time.perf_counter()
    state = load_state(lake)
    if not full and jobs is None and incremental.ready(state):
        report = _step(lake, settings, engine, state, progress, defer_seconds, late_seconds)
        report.seconds = time.perf_counter() - t0
        return report
    clock = data_clock(lake)
    report = RollupReport(engine.name, clock)
    if clock is None:
        return report
    # the files are listed before any job runs; what they hold is read while the jobs run
    snap = incremental.snapshot_listed(lake, settings, clock) if jobs is None else None
    todo = jobs or JOBS
    # an engine that merges rows in memory (Task.rows) gets the tier below as this run wrote it
    kept = Carry(j.source for j in todo if j.kind == "merge") if getattr(engine, "merges_rows", False) else None
    with ThreadPoolExecutor(1, thread_name_prefix="wl-snapshot") as pool, Commits(lake) as commits:
        scanned = pool.submit(snap) if snap is not None else None
        try:
            for i, job in enumerate(todo):
                report.jobs.append(run_job(lake, settings, engine, job, state, clock, commits, full=full,
                                           progress=progress, kept=kept))
                if kept is not None:
                    kept.keep_only(j.source for j in todo[i + 1:] if j.kind == "merge")
            commits.wait()
        except BaseException:
            with suppress(Exception):  # what was committed is recorded; the rest is redone next run
                commits.wait()
            save_state(lake, state)
            raise
        incr = scanned.result() if scanned is not None else None
    if incr is not None:
        state[incremental.KEY] = incr
    else:
        state.pop(incremental.KEY, None)  # some jobs ran alone: the next run rebuilds the state
    save_state(lake, state)
    report.seconds = time.perf_counter() - t0
    return report


def _step(lake: Lake, settings: Settings, engine: Engine, state: dict,
          progress: Callable[[str], None] | None, defer_seconds: float, late_seconds: float) -> RollupReport:
    """One incremental step over every job. The state is saved once, at the end, when it changed:
    a step killed before that is redone whole by the next one (every job recomputes whole
    buckets, so redoing is idempotent, and the ranges handed to the merge jobs are derived again
    from the same source diff)."""
    before = json.dumps(state, sort_keys=True)
    step = incremental.Step(lake, settings, engine, state)
    diffs = {j.name: step.diff(j) for j in JOBS if j.kind != "merge"}
    report = RollupReport(engine.name, incremental.clock_of(step.clock_ms))
    pending = state[incremental.KEY]["pending"]
    for job in JOBS:
        t0, c0 = time.perf_counter(), time.process_time()
        jr = JobReport(job.name, job.target)
        if job.kind == "merge":
            runs = step.merge_job(job, jr, defer_seconds)
        else:
            runs = step.raw_job(job, *diffs[job.name], jr, late_seconds)
        handed = time.time()
        for down in JOBS:
            if down.source == job.target:
                pending.setdefault(down.name, []).extend(
                    [lo, hi, handed, list(series) if series is not None else None] for lo, hi, series in runs)
        state[incremental.KEY]["clock"] = step.clock_ms
        jr.seconds, jr.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        report.jobs.append(jr)
        if progress and jr.built:
            progress(f"{job.name}: {len(jr.built)} partitions, {jr.rows:,} rows")
    if json.dumps(state, sort_keys=True) != before:
        save_state(lake, state)
    return report
