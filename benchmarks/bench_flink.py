"""Flink streaming rollup benchmark: start-up, rows/s, window-close-to-output latency, recovery.

    .venv/bin/python -m benchmarks.bench_flink [--small] [--rows N] [--no-cluster]
    .venv/bin/python -m benchmarks.bench_flink --startup [--reps N]

Data (generated under benchmarks/.data/flink-N/): N raw datapoints (default 4M, --small 1M) over
2,000 series at 10 s spacing, written by DuckDB as raw Parquet in the lake layout, then exported
once as a segment (:func:`pipeline.loader.segments.seed`, timed: the catch-up path).

Measured in one process (one JVM), on the same segment:

* **start-up**: TableEnvironment (JVM) creation, and from submitting the streaming job (compiled
  plan, continuous source) until it is RUNNING;
* **rows/s**: the job's SQL (``jobs.flink.sql``: sketch key, partials, late output) on the bounded
  segment in streaming mode, beside a **bare Flink SQL TUMBLE count/sum/min/max** over the same
  file (same source table, same CSV sink kind), and beside the **DuckDB engine** (raw → 1m,
  :func:`pipeline.rollup.engine.rollup_table`) on the raw Parquet; plus the committer turning
  the job's output into ``metrics_1m`` (rows/s of output). Every bounded job checkpoints at the
  streaming job's interval (:attr:`jobs.flink.stream.StreamConfig.checkpoint_seconds`). Each kind
  also runs on the first :data:`HEAD_LINES` lines of the input: that run is the job's fixed cost
  (mini-cluster start, deployment, code generation, teardown), so **rows/s after start-up** is
  ``(lines − head lines) ÷ (seconds − head seconds)``, the same for CPU seconds;
* **window-close-to-output latency**: the continuous job running, a segment that closes a window
  is written; the time until that window's row is in ``metrics_1m`` (committer polling every
  0.1 s; checkpoints every second: most of the latency is the checkpoint that publishes the part
  file);
* **recovery** (unless ``--no-cluster``): a standalone cluster (JobManager + 2 TaskManagers,
  :mod:`jobs.flink.cluster`) runs the job; one TaskManager is killed with SIGKILL; seconds until
  the job and all its tasks run again.

``--startup`` measures only the start-up, each in a fresh process (a new JVM, as ``watchlake run``
starts it), without and with the class-data archive of ``watchlake flink warm``
(:mod:`jobs.flink.jvm`, built first if missing), alternately: wall and JVM CPU seconds from process
start to the streaming job RUNNING, by phase (JVM + TableEnvironment; plan: the DDL and its compilation,
none when it exists; execute → RUNNING), for a first start (the plan is compiled) and a restart (the compiled plan
exists: as after `watchlake flink warm`).

Wall seconds on a shared 2-core machine: compare the ratios printed beside each number.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import bench_rollup

DATA = Path(__file__).resolve().parent / ".data"
T0 = datetime(2026, 11, 5, tzinfo=UTC)
SERIES = 2_000
HEAD_LINES = 20_000
"""Lines of the small run whose time is the fixed cost of a job (module docstring)."""


def generate(root: Path, n: int) -> None:
    """``n`` datapoints over :data:`SERIES` series, 10 s apart (the rollup benchmark's generator)."""
    bench_rollup.generate(root, n, SERIES)


def _jvm_cpu() -> float:
    """CPU seconds (user + system, all threads) of this process's JVM children: the mini-cluster runs
    in PyFlink's gateway JVM, so this is the CPU of the jobs (load from other processes inflates wall
    seconds much more than CPU seconds)."""
    import subprocess

    pids = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if b"java" not in fh.read():
                    continue
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return total


def _bounded(te: Any, segment_dir: str, out: str, ours: bool, options: dict[str, str] | None = None,
             ) -> tuple[float, float]:
    """(wall, JVM CPU) seconds of one bounded streaming job over ``segment_dir``: ours (the
    streaming job's SQL with its options, :data:`jobs.flink.sql.PLANNER_OPTIONS`), or the bare
    TUMBLE (with ``options``, default none: Flink's defaults, as a user would write it)."""
    from jobs.flink import sql as fsql

    conf = te.get_config()
    opts = fsql.PLANNER_OPTIONS if ours else (options or {})
    for k, v in {**{k: "false" for k in fsql.PLANNER_OPTIONS}, **opts}.items():
        conf.set(k, v)
    tag = ("o" if ours else "b") + str(abs(hash(out)) % 100_000)
    te.execute_sql(fsql.source_ddl(f"src_{tag}", "file://" + segment_dir, out_of_orderness=60))
    t0, c0 = time.perf_counter(), _jvm_cpu()
    if ours:
        te.execute_sql(fsql.sink_ddl(f"out_{tag}", fsql.OUT_SCHEMA, "file://" + out))
        te.execute_sql(fsql.sink_ddl(f"late_{tag}", fsql.LATE_SCHEMA, "file://" + out + "-late"))
        for stmt in fsql.views(f"pts_{tag}", f"src_{tag}"):
            te.execute_sql(stmt)
        ss = te.create_statement_set()
        ss.add_insert_sql(fsql.rollup_insert(f"out_{tag}", f"pts_{tag}"))
        ss.add_insert_sql(fsql.late_insert(f"late_{tag}", f"pts_{tag}"))
        ss.execute().wait()
    else:
        te.execute_sql(fsql.sink_ddl(f"out_{tag}", "sid STRING, b TIMESTAMP(3), n BIGINT, s DOUBLE, lo DOUBLE, "
                                     "hi DOUBLE", "file://" + out))
        te.execute_sql(
            f"INSERT INTO out_{tag} SELECT sid, window_start, COUNT(*), SUM(s), MIN(lo), MAX(hi) FROM "
            f"TABLE(TUMBLE(TABLE src_{tag}, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY sid, window_start, "
            "window_end").wait()
    return time.perf_counter() - t0, _jvm_cpu() - c0


def _split(src: Path, dest: Path, parts: int) -> None:
    """``src`` (sorted by time) as ``parts`` files of consecutive lines in folder ``dest``."""
    dest.mkdir()
    lines = src.read_bytes().splitlines(keepends=True)
    step = -(-len(lines) // parts)
    for i in range(parts):
        (dest / f"seg-{i}.csv").write_bytes(b"".join(lines[i * step:(i + 1) * step]))


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _committed_minute(lake: Any, minute_ms: int) -> bool:
    con = duckdb.connect()
    files = [lake.uri(f) for f in lake.table_files("metrics_1m")]
    if not files:
        return False
    row = con.execute("SELECT count(*) FROM read_parquet(?) WHERE epoch_ms(timestamp) = ?",
                      [files, minute_ms]).fetchone()
    return bool(row and row[0])


def main() -> int:
    if sys.argv[1:2] == ["--startup-child"]:
        from benchmarks.bench_flink_startup import startup_child

        startup_child(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="1M rows")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--no-cluster", action="store_true", help="skip the recovery measurement")
    ap.add_argument("--reps", type=int, default=2, help="runs of each bounded job (best counts)")
    ap.add_argument("--parallelism", type=int, default=1, help="> 1: the segment split into that many files")
    ap.add_argument("--startup", action="store_true", help="only the start-up, fresh processes, with/without the "
                    "class-data archive (--reps of each)")
    args = ap.parse_args()
    if args.startup:
        from benchmarks.bench_flink_startup import startup

        startup(args.reps)
        return 0
    t_process = time.perf_counter()
    n = args.rows or (1_000_000 if args.small else 4_000_000)
    root = DATA / f"flink-{n}"
    if not (root / "raw" / "metrics").exists():
        print(f"generating {n:,} raw datapoints …", flush=True)
        generate(root, n)

    from jobs.flink import sql as fsql
    from jobs.flink.committer import FlinkCommitter
    from jobs.flink.stream import StreamConfig, submit
    from jobs.flink_rollup import create_table_env
    from pipeline.config import load_settings
    from pipeline.lake import Lake
    from pipeline.loader import segments
    from pipeline.rollup.engine import rollup_table

    work = Path(tempfile.mkdtemp(prefix="bench-flink-"))
    try:
        lake_root = work / "lake"
        shutil.copytree(root / "raw", lake_root / "raw")
        settings = load_settings(env={}, overrides={"lake.root": str(lake_root)})
        lake = Lake.from_settings(settings)
        segments.enable(lake)
        t0 = time.perf_counter()
        seg, lines = segments.seed(lake)
        t_seed = time.perf_counter() - t0
        assert seg is not None
        seg_dir = work / "segment"
        seg_dir.mkdir()
        shutil.copy(lake.path(seg), seg_dir / "seg.csv")
        size = os.path.getsize(seg_dir / "seg.csv")
        print(f"rows {lines:,} ({size / 1e6:.0f} MB segment), export (seed) {t_seed:.1f} s = "
              f"{lines / t_seed / 1e6:.2f} M rows/s", flush=True)

        # DuckDB on the same data (raw → 1m, the real engine incl. sketches)
        con = duckdb.connect()
        con.execute("SET TimeZone='UTC'")
        files = [lake.uri(f) for f in lake.table_files("metrics")]
        t0 = time.perf_counter()
        ref = rollup_table(con, "raw", files, 60, T0, datetime(2100, 1, 1, tzinfo=UTC))
        t_duck = time.perf_counter() - t0

        t0 = time.perf_counter()
        t_env = create_table_env(mode="streaming", parallelism=args.parallelism)
        t_jvm = time.perf_counter() - t0
        src = str(seg_dir)
        if args.parallelism > 1:   # consecutive time ranges, as the loader's segments are
            _split(seg_dir / "seg.csv", work / "split", args.parallelism)
            src = str(work / "split")
        t_env.get_config().set("execution.checkpointing.interval",
                               f"{round(StreamConfig.checkpoint_seconds * 1000)} ms")   # as the streaming job
        head = work / "head"
        head.mkdir()
        with open(seg_dir / "seg.csv", "rb") as fh, open(head / "seg.csv", "wb") as out_fh:
            out_fh.writelines(line for _, line in zip(range(HEAD_LINES), fh, strict=False))
        _bounded(t_env, src, str(work / "out-warm"), False)  # JIT warm-up: the first job is slow
        kinds = {"ours": (True, None), "bare": (False, None), "bare+opts": (False, fsql.PLANNER_OPTIONS)}
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        after: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}   # marginal s per line
        for r in range(args.reps):
            for kind, (ours, opts) in kinds.items():
                hw, hc = _bounded(t_env, str(head), str(work / f"head-{kind}-{r}"), ours, opts)
                wall, cpu = _bounded(t_env, src, str(work / f"out-{kind}-{r}"), ours, opts)
                runs[kind].append((wall, cpu))
                n_after = lines - HEAD_LINES
                after[kind].append((max(wall - hw, 1e-3) / n_after, max(cpu - hc, 1e-3) / n_after))
                print(f"  {kind:10s} run {r + 1}: {wall:6.1f} s = {lines / wall / 1e6:.2f} M rows/s, "
                      f"JVM CPU {cpu:6.1f} s = {lines / cpu / 1e6:.2f} M rows/CPU-s; fixed cost (head run) "
                      f"{hw:.1f} s, {hc:.1f} CPU-s ({_load()})", flush=True)
        best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in runs.items()}
        rate = {k: (1 / min(w for w, _ in v), 1 / min(c for _, c in v)) for k, v in after.items()}
        t_ours = best["ours"][0]
        # the committer on the job's output (one step: assemble, identities, keyed commit)
        out_dir = lake.path("_flink/out/rollup_1m")
        shutil.copytree(work / "out-ours-0", out_dir)
        committer = FlinkCommitter(lake, settings, segment_retention_seconds=-1)
        t0 = time.perf_counter()
        rep = committer.step(cascade=False)
        t_commit = time.perf_counter() - t0
        assert rep.rows == ref.num_rows, (rep.rows, ref.num_rows)
        print(f"JVM + TableEnvironment {t_jvm:.1f} s (process start to ready {time.perf_counter() - t_process:.1f} s "
              f"incl. data prep)")
        print(f"rollup raw→1m, parallelism {args.parallelism}, best of {args.reps} (wall; JVM CPU):")
        for kind, label in (("ours", "ours (Flink SQL, sketch, late output)"),
                            ("bare", "bare Flink TUMBLE count/sum/min/max, Flink defaults"),
                            ("bare+opts", "bare TUMBLE with the job's options")):
            w, c = best[kind]
            print(f"  {label:52s} {w:6.1f} s = {lines / w / 1e6:.2f} M rows/s; {c:6.1f} CPU-s = "
                  f"{lines / c / 1e6:.2f} M rows/CPU-s")
        for kind in ("bare", "bare+opts"):
            print(f"  ratio ours ÷ {kind} rows/s: wall {best[kind][0] / best['ours'][0]:.2f}, "
                  f"CPU {best[kind][1] / best['ours'][1]:.2f} (target ≥ 0.8)")
        print("  after start-up (fixed cost of a job subtracted: the head run), best of "
              f"{args.reps}: " + "; ".join(f"{k} {w / 1e6:.2f} M rows/s, {c / 1e6:.2f} M rows/CPU-s"
                                              for k, (w, c) in rate.items())
              + f" — ours ÷ bare+opts: wall {rate['ours'][0] / rate['bare+opts'][0]:.2f}, "
              f"CPU {rate['ours'][1] / rate['bare+opts'][1]:.2f} (issue target: ≥ 0.4 M raw points/s)")
        print(f"DuckDB engine raw→1m {t_duck:.1f} s = {lines / t_duck / 1e6:.2f} M rows/s | Flink ours / DuckDB "
              f"{t_ours / t_duck:.1f}x")
        print(f"committer: {rep.windows:,} windows → metrics_1m in {t_commit:.1f} s "
              f"({rep.windows / t_commit / 1e6:.2f} M rows/s); equal row count to DuckDB: {rep.rows == ref.num_rows}")

        # start-up and window-close-to-output latency of the continuous job
        for p in segments.inbox_segments(lake):
            lake.delete(p.path)
        lake.delete("_flink/out")
        cfg = StreamConfig.for_lake(lake, checkpoint_seconds=1.0, out_of_orderness=0)
        t0 = time.perf_counter()
        res = submit(cfg)
        client = res.get_job_client()
        while str(client.get_job_status().result()).rsplit(".", 1)[-1] != "RUNNING":
            time.sleep(0.05)
        t_start = time.perf_counter() - t0
        print(f"start-up: streaming job submitted (plan compiled) → RUNNING {t_start:.1f} s; with the JVM "
              f"{t_start + t_jvm:.1f} s ({_load()})", flush=True)
        sid = "00000000000000aa"
        rows_csv = "{sid},{ms},0,1.0,1.0,1.0,1.0,,\n"
        base = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp() * 1000)
        lat = []
        ids_table = (f"SELECT '{sid}' AS _wl_series_id, 'Bench' AS namespace, 'Lat' AS metric_name, "
                     "'{}' AS dimensions, 'None' AS unit")
        committer.ids = con.sql(ids_table).to_arrow_table()
        for k in range(6):
            minute = base + k * 60_000
            lake.write_bytes(f"{segments.INBOX}/seg-lat-{k}a.csv", rows_csv.format(sid=sid, ms=minute + 1000).encode())
            time.sleep(1.5)
            t0 = time.perf_counter()   # closes the window of `minute` (watermark = newest, no delay)
            closing = rows_csv.format(sid=sid, ms=minute + 60_000).encode()
            lake.write_bytes(f"{segments.INBOX}/seg-lat-{k}b.csv", closing)
            while not _committed_minute(lake, minute):
                committer.step(cascade=False)
                time.sleep(0.1)
                if time.perf_counter() - t0 > 60:
                    raise TimeoutError("window never committed")
            lat.append(time.perf_counter() - t0)
        client.cancel().result()
        print(f"window-close-to-output latency (segment written → row in metrics_1m): median "
              f"{statistics.median(lat):.1f} s, max {max(lat):.1f} s over {len(lat)} windows "
              f"(checkpoint interval 1 s, source scan 1 s)", flush=True)
        t0 = time.perf_counter()   # a restart: the compiled plan exists (as for the run stage's restarts)
        client = submit(cfg).get_job_client()
        while str(client.get_job_status().result()).rsplit(".", 1)[-1] != "RUNNING":
            time.sleep(0.05)
        print(f"start-up again (compiled plan reused): submitted → RUNNING {time.perf_counter() - t0:.1f} s "
              f"({_load()})", flush=True)
        client.cancel().result()

        if not args.no_cluster:
            from jobs.flink.cluster import LocalCluster

            cluster = LocalCluster(work / "cluster", taskmanagers=2, slots=1)
            try:
                cluster.start()
                job = str(submit(cfg.with_(parallelism=2), remote=cluster.address).get_job_client().get_job_id())
                cluster.wait_running(job)
                while cluster.checkpoints(job) < 2:
                    time.sleep(0.2)
                t0 = time.perf_counter()
                cluster.kill_taskmanager(0)   # one slot each, parallelism 2: both TaskManagers run a subtask
                while cluster.failures(job) == 0:   # region failover: the job itself stays RUNNING
                    time.sleep(0.05)
                    if time.perf_counter() - t0 > 60:
                        raise TimeoutError("the kill did not fail the job")
                detected = time.perf_counter() - t0
                cluster.restart_taskmanager(0)
                cluster.wait_running(job)
                recovered = time.perf_counter() - t0
                print(f"recovery after kill -9 of a TaskManager: failure noticed {detected:.1f} s, job and all tasks "
                      f"running again {recovered:.1f} s (including the TaskManager's restart: no spare slot)")
            finally:
                cluster.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
