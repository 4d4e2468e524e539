"""Bucket-level incremental rollups: a step costs in proportion to the data that changed since the
last step, not to the day so far.

One step, per job in :data:`~pipeline.rollup.tiers.JOBS` order:

* **raw jobs** (``metrics→1m``, ``cloudtrail→1m``) diff the source listing against the files they
  consumed last time (kept in the rollup state with each file's rows per 1m bucket). Only new
  files are read, and only their time column (one grouped scan). A new file's buckets are
  *affected*; so are a vanished file's — except that a compaction output (a ``replace`` ledger
  entry whose retired files were consumed: :mod:`pipeline.loader.compact` keeps rows) affects
  only the buckets whose row count differs from its inputs' (usually none).
  Where a new file holds only a few rows of a bucket (late data), only those rows' series are
  recomputed there (:mod:`pipeline.rollup.narrow`).
* **merge jobs** (``1m→5m``, ``5m→1h``) take the bucket ranges (and series) the job below them
  rewrote, handed over in the state, widened to their own period.
* affected buckets at or after the cutoff ``floor(clock − tiers.recompute_window_minutes)`` are
  recomputed by the engine from the source files whose range meets them, as runs of consecutive
  buckets cut at chunk boundaries (:mod:`pipeline.rollup.chunks`), and each run replaces exactly
  its buckets in one atomic commit (:func:`pipeline.rollup.chunks.replace_runs`): a reader sees
  each bucket once. Older affected buckets are skipped and reported late (``--full`` rebuilds).
  A live step may hold the buckets of late data (older than the last three) for a few minutes and
  recompute them together (:meth:`Step._hold`).
* source partitions wholly before the cutoff are *frozen*: kept as a fingerprint and a row count;
  new rows there are reported late; a compaction there (same rows) is not. A frozen partition
  whose target partition does not exist yet is built whole (first build).

Recomputing a bucket from all its source rows is idempotent, so a crash anywhere only repeats
work: the state (files consumed, ranges handed up) is saved after the step's commits, and a step
killed before that re-diffs the same files and rewrites the same buckets. The data clock is the
newest event time seen in the raw files consumed (never read from the day's files).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.lake import layout, ledger
from pipeline.lake.replace import replacing
from pipeline.rollup import chunks, percentiles, settle
from pipeline.rollup.engine import Engine, Task
from pipeline.rollup.narrow import Series, add, coalesce, narrow, only, runs_of, union, widen
from pipeline.rollup.scan import Counts, rows_in, scan
from pipeline.rollup.state import SourceFile, fingerprint, listing
from pipeline.rollup.tiers import JOBS, Job, partition_range, target_partition
from pipeline.tierchain import parse_percentiles
from pipeline.timeutil import epoch_ms, from_epoch

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake
    from pipeline.rollup.runner import JobReport

KEY = "incremental"
"""The key of the incremental state in the rollup state document."""



def ready(state: dict[str, Any]) -> bool:
    return isinstance(state.get(KEY), dict) and all(j.name in state[KEY]["jobs"] for j in JOBS)


def _entry(f: SourceFile, newest: int, counts: Counts) -> list[Any]:
    return [f.size, f.mtime_ns, newest, {str(b): n for b, n in sorted(counts.items())}]


def _counts(entry: list[Any]) -> Counts:
    return {int(b): int(n) for b, n in entry[3].items()}


class Step:
    """One incremental step over every job (see the module docstring). ``state`` is the rollup
    state document, updated in place (the runner saves it after the step)."""

    def __init__(self, lake: Lake, settings: Settings, engine: Engine, state: dict[str, Any]):
        self.lake, self.settings, self.engine, self.state = lake, settings, engine, state
        self.incr: dict[str, Any] = state[KEY]
        self.window = timedelta(minutes=settings.tiers.recompute_window_minutes)
        self.patterns = parse_percentiles(settings.tiers.percentiles)
        self.clock_ms: int = int(self.incr.get("clock") or 0)
        self._exists: dict[tuple[str, str], bool] = {}
        if "open" not in self.incr:  # a state from before partitions were merged: look at each once
            self.incr["open"] = settle.all_targets(lake)

    def cutoff_ms(self, period: int) -> int:
        ms = period * 1000
        lo = self.clock_ms - int(self.window.total_seconds() * 1000)
        return lo - lo % ms

    # -- raw jobs: what changed ----------------------------------------------------------------

    def diff(self, job: Job) -> tuple[dict[str, list[SourceFile]], dict[str, tuple[int, Counts, dict[int, Series]]]]:
        """The source listing, and the scan of every file not consumed yet in a partition that was
        not frozen (the clock advances to the newest time scanned)."""
        st = self.incr["jobs"][job.name]
        sources = listing(self.lake, job.source)
        cutoff = self.cutoff_ms(job.period)
        todo = []
        for folder, files in sources.items():
            _, hi = partition_range(layout.parse_partition_path(job.source, folder))
            if folder in st["frozen"] or epoch_ms(hi) <= cutoff:
                continue
            todo += [f.rel for f in files if st["files"].get(f.rel, [None, None])[:2] != [f.size, f.mtime_ns]]
        scanned = scan(self.lake, job.source, todo, job.period, series=job.kind == "raw")
        self.clock_ms = max([self.clock_ms, *(newest for newest, _, _ in scanned.values())])
        return sources, scanned

    def _target_exists(self, job: Job, tfolder: str, tvalues: dict[str, str]) -> bool:
        key = (job.name, tfolder)
        if key not in self._exists:
            self._exists[key] = any(chunks.file_range(job, f, tvalues) is not None
                                    for f in self.lake.table_files(job.target, tfolder))
        return self._exists[key]

    def raw_job(self, job: Job, sources: dict[str, list[SourceFile]],
                scanned: dict[str, tuple[int, Counts, dict[int, Series]]],
                report: JobReport, late_seconds: float = 0.0) -> list[tuple[int, int, Series]]:
        st = self.incr["jobs"][job.name]
        cutoff = self.cutoff_ms(job.period)
        ms = job.period * 1000
        tracked: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        for rel, e in st["files"].items():
            tracked[rel.rsplit("/", 1)[0]][rel] = e
        affected: dict[int, Series] = {}
        late: set[str] = set()
        first: dict[str, tuple[dict[str, str], list[str]]] = {}
        files_now: dict[str, list[Any]] = {}
        frozen: dict[str, list[Any]] = {}
        for folder, files in sources.items():
            lo, hi = partition_range(layout.parse_partition_path(job.source, folder))
            tvalues = target_partition(job, layout.parse_partition_path(job.source, folder))
            tfolder = layout.partition_path(job.target, tvalues)
            old = tracked.get(folder, {})
            if folder in st["frozen"] or epoch_ms(hi) <= cutoff:
                fp = fingerprint(files)
                rec = st["frozen"].get(folder)
                if rec is not None and rec[0] == fp:
                    frozen[folder] = rec
                    continue
                rows = rows_in(self.lake, files)
                before = rec[1] if rec is not None else (sum(sum(_counts(e).values()) for e in old.values())
                                                         if old else None)
                if before is None and not self._target_exists(job, tfolder, tvalues):
                    first.setdefault(tfolder, (tvalues, []))[1].append(folder)
                elif before != rows:
                    late.add(tfolder)
                frozen[folder] = [fp, rows]
                continue
            new = [f for f in files if f.rel in scanned]
            gone = {rel: e for rel, e in old.items() if rel not in {f.rel for f in files if f.rel not in scanned}}
            for f in new:
                newest, counts, few = scanned[f.rel]
                files_now[f.rel] = _entry(f, newest, counts)
                net = dict(counts)
                compacted = False
                for r in self._compacted_from(job.source, folder, f.rel):
                    if r in gone:  # a compaction output: only buckets whose rows changed count
                        compacted = True
                        for b, n in _counts(gone.pop(r)).items():
                            net[b] = net.get(b, 0) - n
                for b, n in net.items():
                    if n:
                        add(affected, b, None if compacted else few.get(b))
            for e in gone.values():
                for b in _counts(e):
                    add(affected, b, None)
            for f in files:
                if f.rel not in scanned:
                    files_now[f.rel] = old[f.rel]
        for folder in set(tracked) - set(sources):  # a live partition removed whole: its buckets changed
            for e in tracked[folder].values():
                for b in _counts(e):
                    add(affected, b, None)
        for b in affected:
            if b * ms < cutoff:
                day = layout.time_partitions(job.source, from_epoch(b * ms, "ms"))
                late.add(layout.partition_path(job.target, target_partition(job, day)))
        now = self._hold(st, {b: v for b, v in affected.items() if b * ms >= cutoff}, job.period, late_seconds)
        for b in [b for b in now if b * ms < cutoff]:  # held while the clock jumped past the window
            del now[b]
            late.add(self._target_of(job, b * ms)[0])
        report.late = sorted(late - set(first))
        runs = [r for r in runs_of(now, job.period) if self._target_of(job, r[0])[0] not in first]
        tasks = self._tasks(job, runs, files_now)
        for tfolder, (tvalues, _) in sorted(first.items()):  # first builds: the whole partition
            rels = sorted(f.rel for folder, files in sources.items() for f in files
                          if layout.partition_path(job.target, target_partition(
                              job, layout.parse_partition_path(job.source, folder))) == tfolder)
            lo_t, hi_t = partition_range(tvalues)
            tasks.append((self._task(job, tvalues, rels, epoch_ms(lo_t), epoch_ms(hi_t)), None))
        written = self._compute(job, tasks, report)
        report.unchanged = len(self._targets(job, sources) - set(report.built))
        st["files"], st["frozen"] = files_now, frozen
        self._consumed(job, sources)
        return written

    def _hold(self, st: dict[str, Any], buckets: dict[int, Series], period: int, late_seconds: float
              ) -> dict[int, Series]:
        """The affected buckets to recompute now, with their series. With ``late_seconds``, only
        recent ones (the open bucket and the two before it, which alarms read) go at once; older
        ones (late data) are held, with those already held, until the first held has waited
        ``late_seconds`` of data clock or wall time or the oldest nears the cutoff — then all go
        together, so late data scattered over the window costs one recompute per bucket per
        ``late_seconds``, not one per step."""
        held: dict[int, tuple[int, float, Series]] = {
            int(b): (int(e[0]), float(e[1]), tuple(e[2]) if e[2] is not None else None)
            for b, e in st.get("held", {}).items()}
        now: dict[int, Series] = {}
        ms, wait_ms, wall = period * 1000, int(late_seconds * 1000), time.time()
        recent = self.clock_ms - self.clock_ms % ms - 2 * ms
        for b, series in buckets.items():
            if not late_seconds or b * ms >= recent:
                add(now, b, series)
            else:
                c, w, before = held.get(b, (self.clock_ms, wall, ()))
                held[b] = (c, w, union(before, series))
        if held and (not late_seconds or self.clock_ms - min(c for c, _, _ in held.values()) >= wait_ms
                     or wall - min(w for _, w, _ in held.values()) >= late_seconds
                     or min(held) * ms < self.cutoff_ms(period) + wait_ms):
            for b, (_, _, series) in held.items():
                add(now, b, series)
            held = {}
        st["held"] = {str(b): [c, w, list(v) if v is not None else None] for b, (c, w, v) in sorted(held.items())}
        return now

    def _compacted_from(self, table: str, folder: str, rel: str) -> list[str]:
        """The files a compaction retired to write ``rel`` (its ``replace`` ledger entry), if any."""
        commit = ledger.commit_of(rel)
        if commit is None:
            return []
        path = ledger.entry_path(table, folder, commit)
        if not self.lake.exists(path):
            return []
        doc = self.lake.read_json(path)
        return list(doc.get("retires", ())) if doc.get("kind") == "replace" else []

    def _target_of(self, job: Job, lo_ms: int) -> tuple[str, dict[str, str]]:
        """The target partition holding the bucket starting at ``lo_ms``."""
        values = target_partition(job, {"dt": from_epoch(lo_ms, "ms").strftime("%Y-%m-%d")})
        return layout.partition_path(job.target, values), values

    def _targets(self, job: Job, sources: dict[str, list[SourceFile]]) -> set[str]:
        return {layout.partition_path(job.target, target_partition(job, layout.parse_partition_path(job.source, f)))
                for f in sources}

    def _tasks(self, job: Job, runs: list[tuple[int, int, Series]], files_now: dict[str, list[Any]]
               ) -> list[tuple[Task, Series]]:
        ms = job.period * 1000
        spans = {rel: (min(int(b) for b in e[3]) * ms, max(int(b) for b in e[3]) * ms + ms)
                 for rel, e in files_now.items() if e[3]}
        tasks = []
        for lo, hi, series in runs:
            files = sorted(rel for rel, (a, b) in spans.items() if a < hi and lo < b)
            tasks.append((self._task(job, self._target_of(job, lo)[1], files, lo, hi), series))
        return tasks

    def _task(self, job: Job, tvalues: dict[str, str], rels: list[str], lo: int, hi: int) -> Task:
        return Task(layout.partition_path(job.target, tvalues), tvalues, tuple(self.lake.uri(r) for r in rels),
                    from_epoch(lo, "ms"), from_epoch(hi, "ms"), self.patterns)

    # -- merge jobs ----------------------------------------------------------------------------

    def merge_job(self, job: Job, report: JobReport, defer_seconds: float = 0.0) -> list[tuple[int, int, Series]]:
        """Recompute the buckets of ``job`` that meet the ranges handed over from below. With
        ``defer_seconds``, a range whose source buckets are still open (end after the clock) waits
        until they close or it has waited that long: a live step then rebuilds an hour bucket
        once per closed 5-minute bucket, not at every step."""
        now = time.time()
        pending: list[tuple[int, int, Series]] = []
        deferred: list[list[Any]] = []
        for lo, hi, since, series in coalesce(self.incr["pending"].get(job.name, [])):
            if defer_seconds and hi > self.clock_ms and now - since < defer_seconds:
                deferred.append([lo, hi, since, list(series) if series is not None else None])
            else:
                pending.append((lo, hi, series))
        cutoff = self.cutoff_ms(job.period)
        ms = job.period * 1000
        buckets = widen(pending, job.period)
        late = {b for b in buckets if b * ms < cutoff}
        report.late = sorted({self._target_of(job, b * ms)[0] for b in late})
        runs = runs_of({b: v for b, v in buckets.items() if b not in late}, job.period)
        sources = listing(self.lake, job.source)
        spans = {}
        for folder, files in sources.items():
            values = layout.parse_partition_path(job.source, folder)
            for f in files:
                r = chunks.any_range(f.rel, values)
                if r is not None:
                    spans[f.rel] = r
        tasks = []
        for lo, hi, series in runs:
            rels = chunks.in_time_order([rel for rel, (a, b) in spans.items() if a < hi and lo < b])
            tasks.append((self._task(job, self._target_of(job, lo)[1], rels, lo, hi), series))
        written = self._compute(job, tasks, report)
        report.unchanged = len(self._targets(job, sources) - set(report.built))
        self.incr["pending"][job.name] = deferred
        self._consumed(job, sources)
        return written

    # -- both ----------------------------------------------------------------------------------

    def _compute(self, job: Job, tasks: list[tuple[Task, Series]], report: JobReport
                 ) -> list[tuple[int, int, Series]]:
        """Run the engine over ``tasks`` (narrowed to their series: :mod:`pipeline.rollup.narrow`)
        and replace each task's rows (one commit per task); returns the ranges written."""
        import tempfile

        import duckdb

        done: list[tuple[int, int, Series]] = []
        built: set[str] = set()
        if not tasks:
            report.built = []
            self._settle(job, [])
            return done
        with tempfile.TemporaryDirectory(prefix="watchlake-narrow-") as tmp:
            con = duckdb.connect()
            try:
                con.execute("SET TimeZone = 'UTC'")
                narrowed = [(narrow(con, t, series, tmp, i), series) for i, (t, series) in enumerate(tasks)]
            finally:
                con.close()
            by_task = {(t.folder, t.lo, t.hi): series for t, series in narrowed}  # disjoint in a step
            for task, rows in self.engine.compute(job, [t for t, _ in narrowed]):
                series = by_task[task.folder, task.lo, task.hi]
                rows = only(percentiles.strip(rows, self.patterns), series)
                run = (epoch_ms(task.lo), epoch_ms(task.hi))
                with replacing(self.lake, job.target) as tx:
                    report.rows += chunks.replace_runs(tx, job, task.folder, task.values, [run], rows, self.clock_ms,
                                                       series, cutoff_ms=self.cutoff_ms(job.period))
                report.rows_in += rows.num_rows
                built.add(task.folder)
                done.append((*run, series))
        report.built = sorted(built)
        self._settle(job, report.built)
        return done

    def _settle(self, job: Job, written: list[str]) -> None:
        """Merge the job's partitions that closed (:mod:`pipeline.rollup.settle`); remember the
        ones still open (those just ``written`` among them)."""
        self.incr["open"][job.name], _ = settle.settle(
            self.lake, job, self.incr["open"].get(job.name, []), written, self.clock_ms, self.cutoff_ms(job.period))

    def _consumed(self, job: Job, sources: dict[str, list[SourceFile]]) -> None:
        """Record, as the batch runner does, which source partitions fed which target partition
        (retention drops only consumed partitions; a later ``--full`` or bootstrap skips them)."""
        job_state = self.state["jobs"].setdefault(job.name, {})
        for folder, files in sources.items():
            tvalues = target_partition(job, layout.parse_partition_path(job.source, folder))
            tfolder = layout.partition_path(job.target, tvalues)
            job_state.setdefault(tfolder, {"sources": {}})["sources"][folder] = fingerprint(files)


def snapshot_listed(lake: Lake, settings: Settings, clock: datetime | None
                    ) -> Callable[[], dict[str, Any] | None]:
    """The incremental state of a lake whose every file listed now is rolled up (taken *before*
    a batch run that builds them all: files that land meanwhile count as new at the next step;
    ``None`` for a lake without data), in two steps: the files are listed now, and the returned
    function reads what they hold (a grouped scan of their times) — it can run while the jobs
    build them, since it reads only files listed before they started."""
    if clock is None:
        return lambda: None
    incr: dict[str, Any] = {"clock": epoch_ms(clock), "jobs": {}, "pending": {}}
    step = Step.__new__(Step)
    step.clock_ms, step.window = epoch_ms(clock), timedelta(minutes=settings.tiers.recompute_window_minutes)
    days: set[str] = set()
    todo: list[tuple[Job, dict[str, Any], list[SourceFile]]] = []
    for job in JOBS:
        if job.kind == "merge":
            incr["jobs"][job.name] = {}
            continue
        st: dict[str, Any] = {"files": {}, "frozen": {}}
        incr["jobs"][job.name] = st
        cutoff = step.cutoff_ms(job.period)
        live: list[SourceFile] = []
        for folder, files in listing(lake, job.source).items():
            days.add(layout.parse_partition_path(job.source, folder)["dt"])
            _, hi = partition_range(layout.parse_partition_path(job.source, folder))
            if epoch_ms(hi) <= cutoff:
                st["frozen"][folder] = [fingerprint(files), rows_in(lake, files)]
            else:
                live += files
        todo.append((job, st, live))
    incr["open"] = settle.open_targets(days, {j.name: step.cutoff_ms(j.period) for j in JOBS})

    def scanned() -> dict[str, Any]:
        for job, st, live in todo:
            found = scan(lake, job.source, [f.rel for f in live], job.period)
            st["files"] = {f.rel: _entry(f, *found[f.rel][:2]) for f in live}
        return incr

    return scanned


def clock_of(ms: int) -> datetime | None:
    """The data clock from epoch milliseconds (0: no data yet)."""
    return from_epoch(ms, "ms") if ms else None
