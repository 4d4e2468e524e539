"""A run's commits made in the background (pipeline.rollup.commits): the next job plans and
computes while a tier's files are written, and the run ends as a run that commits each write
before going on would — the same tiers, a state whose fingerprints are those of the files."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.lake.replace import Replace, open_commit
from pipeline.rollup import sql
from pipeline.rollup.commits import Commits
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.state import fingerprint, listing, load_state
from pipeline.rollup.tiers import JOBS
from pipeline.schemas import ROLLUP
from tests.pipeline.rollup.test_carry import TIERS, _raw, _tables


class _Timed(DuckDBEngine):
    """Records when each job's computing starts."""

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def compute(self, job, tasks):  # type: ignore[no-untyped-def]
        self.started.setdefault(job.name, time.perf_counter())
        yield from super().compute(job, tasks)


def _slow_commits(monkeypatch: pytest.MonkeyPatch, delay: float) -> dict[str, float]:
    """Every commit waits ``delay`` s before it is made; returns when each table's last one ended."""
    made: dict[str, float] = {}
    real = Replace.finish

    def finish(self: Replace):  # type: ignore[no-untyped-def]
        time.sleep(delay)
        try:
            return real(self)
        finally:
            made[self.table_name] = time.perf_counter()

    monkeypatch.setattr(Replace, "finish", finish)
    return made


def _lake(tmp_path, name: str) -> tuple[Lake, object]:
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / name)})
    lake = Lake.from_settings(settings)
    _raw(lake)
    return lake, settings


def _state_matches_files(lake: Lake) -> None:
    """Every source fingerprint the state records is that of the source folder's files now."""
    state = load_state(lake)
    by_job = {j.name: j for j in JOBS}
    checked = 0
    for name, targets in state["jobs"].items():
        files = listing(lake, by_job[name].source)
        for entry in targets.values():
            for folder, fp in entry["sources"].items():
                assert fp == fingerprint(files.get(folder, [])), (name, folder)
                checked += 1
    assert checked >= 6


@pytest.mark.parametrize("budget", [None, 0])
def test_slow_commits_overlap_the_next_job_and_end_as_committed_writes(tmp_path, monkeypatch, budget):
    """With every commit slowed, 1m→5m starts before the 1m files are committed (from memory;
    with no memory budget it waits for them before reading), and the tiers and the state equal
    those of runs that commit each job before the next."""
    if budget is not None:
        monkeypatch.setattr("pipeline.rollup.carry.BUDGET_BYTES", budget)
    ref, ref_settings = _lake(tmp_path, "ref")
    for job in JOBS:
        run_rollups(ref, ref_settings, DuckDBEngine(), jobs=[job])
    made = _slow_commits(monkeypatch, 0.4)
    read: list[tuple[float, str]] = []  # when a merge's files were read, and which
    ids_query = sql.ids_query
    monkeypatch.setattr(sql, "ids_query", lambda files, *a: read.append((time.perf_counter(), files[0])) or
                        ids_query(files, *a))
    lake, settings = _lake(tmp_path, "slow")
    engine = _Timed()
    run_rollups(lake, settings, engine)
    if budget is None:
        assert engine.started["1m→5m"] < made["metrics_1m"]  # computed while the 1m files were written
        assert not [f for _, f in read if "/metrics_1m/" in f]
    else:  # the 1m files were read once all were committed
        assert [f for _, f in read if "/metrics_1m/" in f]
        assert all(at >= made["metrics_1m"] for at, f in read if "/metrics_1m/" in f)
    got, want = _tables(lake), _tables(ref)
    for t in TIERS:
        assert got[t].num_rows > 0 and got[t].equals(want[t]), t
    _state_matches_files(lake)
    # a rerun sees every partition up to date
    report = run_rollups(lake, settings, DuckDBEngine(), full=False, jobs=list(JOBS))
    assert not any(j.built for j in report.jobs) and all(j.unchanged for j in report.jobs)


class _ReadsFiles(DuckDBEngine):
    """An engine that reads every source file (as Flink does): records, per merge task, whether
    all its files were there when it started."""

    merges_rows = False

    def __init__(self) -> None:
        super().__init__()
        self.complete: list[bool] = []

    def compute(self, job, tasks):  # type: ignore[no-untyped-def]
        import os

        if job.kind == "merge":
            self.complete += [all(os.path.exists(f) for f in t.files) for t in tasks]
        yield from super().compute(job, tasks)


def test_an_engine_that_reads_files_starts_once_they_are_committed(tmp_path, monkeypatch):
    ref, ref_settings = _lake(tmp_path, "ref")
    run_rollups(ref, ref_settings, DuckDBEngine())
    _slow_commits(monkeypatch, 0.4)
    lake, settings = _lake(tmp_path, "slow")
    engine = _ReadsFiles()
    run_rollups(lake, settings, engine)
    assert engine.complete and all(engine.complete)
    got, want = _tables(lake), _tables(ref)
    for t in TIERS:
        assert got[t].equals(want[t]), t


def test_a_failed_commit_fails_the_run_and_the_next_run_builds_everything(tmp_path, monkeypatch):
    real = Replace.finish

    def finish(self: Replace):  # type: ignore[no-untyped-def]
        if self.table_name == "metrics_1m" and any("-rollup-" in a for a in self.added):
            self.abort()
            raise OSError("disk full")
        return real(self)

    lake, settings = _lake(tmp_path, "lake")
    monkeypatch.setattr(Replace, "finish", finish)
    with pytest.raises(OSError, match="disk full"):
        run_rollups(lake, settings, DuckDBEngine())
    monkeypatch.setattr(Replace, "finish", real)
    assert not any("-rollup-" in f for f in lake.table_files("metrics_1m"))
    assert not load_state(lake)["jobs"].get("metrics→1m")  # nothing recorded for what was not made
    run_rollups(lake, settings, DuckDBEngine())
    ref, ref_settings = _lake(tmp_path, "ref")
    run_rollups(ref, ref_settings, DuckDBEngine())
    got, want = _tables(lake), _tables(ref)
    for t in TIERS:
        assert got[t].num_rows > 0 and got[t].equals(want[t]), t
    _state_matches_files(lake)


def test_listing_shows_a_pending_commit_as_made_and_state_waits_for_it(tmp_path):
    lake, _ = _lake(tmp_path, "lake")
    gate = threading.Event()
    real = Replace.finish
    old = lake.table_files("metrics")
    folder = old[0].rsplit("/", 1)[0]
    recorded: list[str] = []
    with Commits(lake) as commits:
        tx = open_commit(lake, "metrics_1m")
        new = tx.add({"dt": "2026-11-01"}, ROLLUP.empty_table().cast(ROLLUP), tag="x")
        tx.finish = lambda: (gate.wait(5), real(tx))[1]  # type: ignore[method-assign]
        commits.submit("metrics_1m", tx, lambda: recorded.append("1m"))
        files, touched = commits.listing("metrics_1m")
        new_folder = new.rsplit("/", 1)[0]
        assert touched == {new_folder} and [(f.rel, f.size) for f in files[new_folder]] == [(new, -1)]
        assert lake.table_files("metrics_1m") == [] and commits.pending("metrics_1m")
        assert commits.listing("metrics") == (listing(lake, "metrics"), set()) and folder in listing(lake, "metrics")
        commits.settle()
        assert recorded == []  # not made yet
        gate.set()
        commits.wait("metrics_1m")
        assert recorded == ["1m"] and lake.table_files("metrics_1m") == [new] and not commits.pending("metrics_1m")
        assert commits.listing("metrics_1m")[1] == set()
