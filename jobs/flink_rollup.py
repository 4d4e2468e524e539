"""The rollup as a PyFlink job: Flink SQL with event-time TUMBLE windows and watermarks.

``watchlake rollup --engine flink`` runs it on an embedded local mini-cluster; the same file
can be submitted to a Flink cluster (``flink run -py jobs/flink_rollup.py -- --lake PATH``,
see the README). Which partitions to build, the recompute window and the atomic writes are the
shared :mod:`pipeline.rollup.runner`; this engine only computes the buckets.

How the job reads the lake. Flink's filesystem connector has no Parquet format without extra
jars, and ``from_pandas`` holds everything in the JVM heap (it OOMs at 10M rows), so DuckDB
exports the source rows of all partitions to build as **one file sorted by event time**, read by
the ``filesystem`` connector in **streaming mode** with a bounded-out-of-orderness watermark;
windows are event-time ``TUMBLE`` windows that fire when the watermark passes them (the end of
the bounded input fires the rest). Late data is handled by the runner's recompute window.

* ``raw`` (→ 1m) runs **the streaming job's SQL** (:mod:`jobs.flink.sql`) on a segment in the
  format the loader writes for it (:mod:`pipeline.loader.segments`), and assembles the result
  with :mod:`jobs.flink.assemble` — batch and streaming share one definition;
* ``merge`` (→ 5m/1h) and ``activity`` read NDJSON (sketch bins and counts zipped into
  ``ARRAY<ROW<bn, c>>``) and write NDJSON sinks that DuckDB assembles.

:attr:`FlinkEngine.timings` measures the bridge (export), the Flink job and the assembly.

Temporary files go to ``$WATCHLAKE_FLINK_TMP`` (default: the system temp dir); on a cluster
it must be a path every TaskManager can read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from jobs.flink import assemble as fassemble
from jobs.flink import sql as fsql
from jobs.flink.sql import interval
from pipeline.loader import segments
from pipeline.rollup.engine import Task, conform
from pipeline.rollup.schema import ROLLUP, SERIES_ID
from pipeline.rollup.sketch import sql_bin
from pipeline.rollup.sql import ACTIVITY_NAMESPACE
from pipeline.rollup.tiers import Job
from pipeline.timeutil import iso

_TS = "strftime({c}, '%Y-%m-%d %H:%M:%S.%g')"
_JSON = "'format' = 'json', 'json.timestamp-format.standard' = 'SQL', 'json.ignore-parse-errors' = 'false'"

_EXPORT = {
    "merge": """SELECT _wl_series_id AS sid, {ts} AS ts, sample_count AS n, "sum" AS s, "min" AS lo,
       "max" AS hi, sketch_count AS skn, list_transform(generate_series(1, len(sketch_bins)),
           lambda i: {{'bn': sketch_bins[i], 'c': sketch_bin_counts[i]}}) AS sketch""",
    "activity": """SELECT {ts} AS ts, coalesce("eventSource", 'unknown') AS es,
       coalesce("eventName", 'unknown') AS en, "errorCode" AS ec""",
}
_SRC_COLS = {
    "merge": "sid STRING, ts TIMESTAMP(3), n DOUBLE, s DOUBLE, lo DOUBLE, hi DOUBLE, skn DOUBLE, "
             "sketch ARRAY<ROW<bn INT, c DOUBLE>>",
    "activity": "ts TIMESTAMP(3), es STRING, en STRING, ec STRING",
}


def _window(src: str, period: int) -> str:
    return f"TABLE(TUMBLE(TABLE {src}, DESCRIPTOR(ts), {interval(period)}))"


def flink_statements(kind: str, period: int, n: str) -> tuple[list[str], list[str]]:
    """(views, inserts) of the Flink SQL for a job kind; table names carry the suffix ``n``."""
    views: list[str] = []
    if kind == "activity":
        w = _window(f"src_{n}", period)
        null = "CAST(NULL AS STRING)"
        return views, [
            f"INSERT INTO o_act_{n} SELECT window_start, 'CallCount', {null}, {null}, {null}, COUNT(*) "
            f"FROM {w} GROUP BY window_start, window_end",
            f"INSERT INTO o_act_{n} SELECT window_start, 'CallCount', es, en, {null}, COUNT(*) "
            f"FROM {w} GROUP BY window_start, window_end, es, en",
            f"INSERT INTO o_act_{n} SELECT window_start, 'ErrorCount', es, en, ec, COUNT(*) "
            f"FROM {w} WHERE ec IS NOT NULL GROUP BY window_start, window_end, es, en, ec",
            f"INSERT INTO o_act_{n} SELECT window_start, 'ErrorCount', {null}, {null}, ec, COUNT(*) "
            f"FROM {w} WHERE ec IS NOT NULL GROUP BY window_start, window_end, ec",
        ]
    if kind != "merge":
        raise ValueError(f"unknown job kind {kind!r} (raw rollups: jobs.flink.sql)")
    views.append(
        f"CREATE TEMPORARY VIEW pts_{n} AS SELECT sid, ts, t.bn, t.c "
        f"FROM src_{n} CROSS JOIN UNNEST(sketch) AS t(bn, c)")
    keyed = f"SELECT sid, window_start, window_end, bn, c FROM {_window(f'pts_{n}', period)}"
    skn = "SUM(skn)"
    return views, [
        f"INSERT INTO o_stats_{n} SELECT sid, window_start, SUM(n), SUM(s), MIN(lo), MAX(hi), {skn} "
        f"FROM {_window(f'src_{n}', period)} GROUP BY sid, window_start, window_end",
        f"INSERT INTO o_keys_{n} SELECT sid, window_start, bn, SUM(c) FROM ({keyed}) "
        f"GROUP BY sid, window_start, window_end, bn",
    ]


_ASSEMBLE = """
WITH st AS (SELECT * FROM read_json({stats}, format = 'newline_delimited', columns = {{sid: 'VARCHAR',
            b: 'TIMESTAMP', n: 'DOUBLE', s: 'DOUBLE', lo: 'DOUBLE', hi: 'DOUBLE', skn: 'DOUBLE'}})),
ky AS ({keys}),
sk AS (SELECT sid, b, list(bn ORDER BY bn) AS bins, list(c ORDER BY bn) AS counts,
              sum(c) AS skn FROM ky GROUP BY sid, b)
SELECT st.sid AS _wl_series_id, ids.namespace, ids.metric_name, ids.dimensions, ids.unit,
       CAST(st.b AS TIMESTAMPTZ) AS "timestamp", CAST({period} AS INTEGER) AS period,
       st.n AS sample_count, st.s AS "sum", st.lo AS "min", st.hi AS "max",
       coalesce(sk.bins, CAST([] AS INTEGER[])) AS sketch_bins,
       coalesce(sk.counts, CAST([] AS DOUBLE[])) AS sketch_bin_counts, coalesce(st.skn, sk.skn, 0.0) AS sketch_count
FROM st JOIN ids_{n} AS ids ON st.sid = ids.sid LEFT JOIN sk ON st.sid = sk.sid AND st.b = sk.b
ORDER BY ids.namespace, ids.metric_name, ids.dimensions, ids.unit, st.b"""

_ASSEMBLE_ACTIVITY = """
WITH a AS (SELECT b, m, CASE WHEN es IS NULL AND ec IS NOT NULL THEN json_object('ErrorCode', ec)::VARCHAR
                   WHEN es IS NULL THEN '{{}}'
                   WHEN ec IS NULL THEN json_object('EventName', en, 'EventSource', es)::VARCHAR
                   ELSE json_object('ErrorCode', ec, 'EventName', en, 'EventSource', es)::VARCHAR END AS dims,
                  CAST(n AS DOUBLE) AS n
           FROM read_json({act}, format = 'newline_delimited', columns = {{b: 'TIMESTAMP', m: 'VARCHAR',
                es: 'VARCHAR', en: 'VARCHAR', ec: 'VARCHAR', n: 'BIGINT'}}))
SELECT left(md5(concat_ws(chr(31), '{ns}', m, dims, 'Count')), 16) AS _wl_series_id, '{ns}' AS namespace,
       m AS metric_name, dims AS dimensions, 'Count' AS unit, CAST(b AS TIMESTAMPTZ) AS "timestamp",
       CAST(60 AS INTEGER) AS period, CAST(1 AS DOUBLE) AS sample_count, n AS "sum", n AS "min", n AS "max",
       [{key}] AS sketch_bins, [CAST(1 AS DOUBLE)] AS sketch_bin_counts, CAST(1 AS DOUBLE) AS sketch_count
FROM a ORDER BY namespace, metric_name, dimensions, unit, b"""


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _parts(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.glob("part-*")) if folder.exists() else []


def create_table_env(parallelism: int = 1, checkpoint_dir: str | None = None,
                     mode: str = "streaming") -> Any:
    """A TableEnvironment (local mini-cluster unless submitted with ``flink run``).

    ``streaming`` (default): watermarks drive the windows; the file sinks commit on
    checkpoints, so checkpointing is on (every second, to a filesystem checkpoint store: window
    state outgrows the 5 MB in-memory default). ``batch``: the same SQL as a bounded batch job
    (watermarks are then ignored; 2–4× faster here). A failed job fails the call instead of
    restarting forever.
    """
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from jobs.flink import jvm

    if mode not in ("streaming", "batch"):
        raise ValueError(f"unknown Flink runtime mode {mode!r}")
    jvm.use_archive()   # the class archive of `watchlake flink warm`, when there is one
    env_settings = (EnvironmentSettings.in_streaming_mode() if mode == "streaming"
                    else EnvironmentSettings.in_batch_mode())
    t_env = TableEnvironment.create(env_settings)
    conf = t_env.get_config()
    ckpt = checkpoint_dir or os.environ.get("WATCHLAKE_FLINK_CHECKPOINTS") or \
        str(Path(tempfile.gettempdir()) / "watchlake-flink-checkpoints")
    uri = ckpt if "://" in ckpt else "file://" + ckpt
    for key, value in {"parallelism.default": str(parallelism), "table.local-time-zone": "UTC",
                       "execution.checkpointing.interval": "1 s",
                       "execution.checkpointing.storage": "filesystem",
                       "execution.checkpointing.dir": uri, "state.checkpoints.dir": uri,
                       "restart-strategy.type": "none", **fsql.PLANNER_OPTIONS}.items():
        conf.set(key, value)
    return t_env


class FlinkEngine:
    """Rollups computed by a PyFlink job (see the module docstring)."""

    name = "flink"

    def __init__(self, t_env: Any = None, *, parallelism: int = 1, watermark_seconds: int = 60,
                 tmp_dir: str | None = None, mode: str = "streaming") -> None:
        import duckdb

        self._t_env, self.parallelism, self.mode = t_env, parallelism, mode
        self.watermark_seconds = watermark_seconds
        self.tmp_root = tmp_dir or os.environ.get("WATCHLAKE_FLINK_TMP") or tempfile.gettempdir()
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.timings: dict[str, float] = {"startup": 0.0, "export": 0.0, "flink": 0.0, "assemble": 0.0}
        self.rows_in = 0

    @property
    def t_env(self) -> Any:
        if self._t_env is None:
            t0 = time.perf_counter()
            self._t_env = create_table_env(self.parallelism, mode=self.mode)
            self.timings["startup"] += time.perf_counter() - t0
        return self._t_env

    def _export(self, job: Job, tasks: list[Task], path: Path) -> int:
        files = sorted({f for t in tasks for f in t.files})
        col = '"eventTime"' if job.kind == "activity" else '"timestamp"'
        ranges = " OR ".join(f"({col} >= TIMESTAMPTZ '{iso(t.lo)}' AND {col} < TIMESTAMPTZ '{iso(t.hi)}')"
                             for t in tasks)
        src = f"read_parquet({_sql_list(files)}, union_by_name = true)"
        if job.kind == "raw":  # the segment lines the streaming job reads (pipeline.loader.segments)
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW raw_{self._n} AS SELECT * FROM {src}")
            n: Any = (segments.export(self.con, f"raw_{self._n}", ranges, str(path)),)
        else:
            select = _EXPORT[job.kind].format(ts=_TS.format(c=col))
            n = self.con.execute(f"COPY ({select} FROM {src} WHERE {ranges} ORDER BY {col}) "
                                 f"TO '{path}' (FORMAT JSON)").fetchone()
        if job.kind != "activity":
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE ids_{self._n} AS SELECT _wl_series_id AS sid, "
                             f"any_value(namespace) AS namespace, any_value(metric_name) AS metric_name, "
                             f"any_value(dimensions) AS dimensions, any_value(unit) AS unit "
                             f"FROM {src} WHERE {ranges} GROUP BY 1")
        return int(n[0]) if n else 0

    def _run_flink(self, job: Job, work: Path) -> None:
        n, t_env = self._n, self.t_env
        if job.kind == "raw":
            self._run_raw(work)
            return
        t_env.execute_sql(
            f"CREATE TEMPORARY TABLE src_{n} ({_SRC_COLS[job.kind]}, "
            f"WATERMARK FOR ts AS ts - {interval(self.watermark_seconds)}) "
            f"WITH ('connector' = 'filesystem', 'path' = 'file://{work / 'src'}', {_JSON})")
        sinks = ({f"o_act_{n}": "b TIMESTAMP(3), m STRING, es STRING, en STRING, ec STRING, n BIGINT"}
                 if job.kind == "activity" else
                 {f"o_stats_{n}": "sid STRING, b TIMESTAMP(3), n DOUBLE, s DOUBLE, lo DOUBLE, hi DOUBLE, "
                                  "skn DOUBLE",
                  f"o_keys_{n}": "sid STRING, b TIMESTAMP(3), bn INT, c DOUBLE"})
        for name, cols in sinks.items():
            t_env.execute_sql(f"CREATE TEMPORARY TABLE {name} ({cols}) WITH ('connector' = 'filesystem', "
                              f"'path' = 'file://{work / name.split('_')[1]}', {_JSON})")
        views, inserts = flink_statements(job.kind, job.period, n)
        for v in views:
            t_env.execute_sql(v)
        stmt = t_env.create_statement_set()
        for ins in inserts:
            stmt.add_insert_sql(ins)
        try:
            stmt.execute().wait()
        finally:
            for v in views:
                t_env.execute_sql(f"DROP TEMPORARY VIEW IF EXISTS {v.split()[3]}")
            for name in [f"src_{n}", *sinks]:
                t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {name}")

    def _run_raw(self, work: Path) -> None:
        """The raw → 1m rollup of the streaming job (:mod:`jobs.flink.sql`), on a bounded input."""
        n, t_env = self._n, self.t_env
        names = [f"src_{n}", f"o_{n}"]
        t_env.execute_sql(fsql.source_ddl(names[0], f"file://{work / 'src'}", out_of_orderness=self.watermark_seconds))
        t_env.execute_sql(fsql.sink_ddl(names[1], fsql.OUT_SCHEMA, f"file://{work / 'out'}"))
        for stmt in fsql.views(f"pts_{n}", names[0]):
            t_env.execute_sql(stmt)
        try:
            t_env.execute_sql(fsql.rollup_insert(names[1], f"pts_{n}")).wait()
        finally:
            t_env.execute_sql(f"DROP TEMPORARY VIEW IF EXISTS pts_{n}_w")
            t_env.execute_sql(f"DROP TEMPORARY VIEW IF EXISTS pts_{n}")
            for name in names:
                t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {name}")

    def _assemble(self, job: Job, work: Path) -> pa.Table:
        if job.kind == "raw":
            out = fassemble.read_csv(_parts(work / "out"), fassemble.OUT_TYPES)
            ids = self.con.sql(f"SELECT sid AS {SERIES_ID}, namespace, metric_name, dimensions, unit "
                               f"FROM ids_{self._n}").arrow().read_all()
            return fassemble.rollup_rows(out, ids, job.period)
        if job.kind == "activity":
            act = _parts(work / "act")
            if not act:
                return ROLLUP.empty_table()
            sql = _ASSEMBLE_ACTIVITY.format(act=_sql_list(act), ns=ACTIVITY_NAMESPACE,
                                            key=sql_bin("CAST(n AS DOUBLE)"))
        else:
            stats, keys = _parts(work / "stats"), _parts(work / "keys")
            if not stats:
                return ROLLUP.empty_table()
            ky = (f"SELECT * FROM read_json({_sql_list(keys)}, format = 'newline_delimited', columns = "
                  "{sid: 'VARCHAR', b: 'TIMESTAMP', bn: 'INTEGER', c: 'DOUBLE'})" if keys else
                  "SELECT NULL::VARCHAR AS sid, NULL::TIMESTAMP AS b, NULL::INTEGER AS bn, "
                  "NULL::DOUBLE AS c WHERE false")
            sql = _ASSEMBLE.format(stats=_sql_list(stats), keys=ky, period=job.period, n=self._n)
        return conform(self.con.sql(sql).arrow().read_all())

    def compute(self, job: Job, tasks: list[Task]) -> Iterator[tuple[Task, pa.Table]]:
        """Run one Flink job for all ``tasks`` of ``job`` and split the result per task."""
        live = [t for t in tasks if t.files and t.lo < t.hi]
        result = ROLLUP.empty_table()
        if live:
            self._n = uuid.uuid4().hex[:8]
            work = Path(tempfile.mkdtemp(prefix="watchlake-flink-", dir=self.tmp_root))
            try:
                (work / "src").mkdir()
                t0 = time.perf_counter()
                self.rows_in += self._export(job, live, work / "src" / "input.data")
                t1 = time.perf_counter()
                self._run_flink(job, work)
                t2 = time.perf_counter()
                result = self._assemble(job, work)
                t3 = time.perf_counter()
                self.timings["export"] += t1 - t0
                self.timings["flink"] += t2 - t1
                self.timings["assemble"] += t3 - t2
            finally:
                shutil.rmtree(work, ignore_errors=True)
        ts = result["timestamp"]
        for task in tasks:
            lo = pa.scalar(task.lo, ts.type)
            hi = pa.scalar(task.hi, ts.type)
            yield task, result.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))

    def close(self) -> None:
        self.con.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python jobs/flink_rollup.py`` and ``flink run -py jobs/flink_rollup.py``."""
    from pipeline.config import load_settings
    from pipeline.lake import Lake
    from pipeline.rollup.runner import run_rollups

    ap = argparse.ArgumentParser(description="watchlake rollup job on Flink")
    ap.add_argument("--lake", help="lake root (default from watchlake.toml / env)")
    ap.add_argument("--config", help="watchlake.toml to read")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--mode", choices=["streaming", "batch"], default="streaming")
    args = ap.parse_args(argv)
    settings = load_settings(args.config, overrides={"lake.root": args.lake} if args.lake else None)
    engine = FlinkEngine(parallelism=args.parallelism, mode=args.mode)
    report = run_rollups(Lake.from_settings(settings), settings, engine, full=args.full, progress=print)
    for j in report.jobs:
        print(f"{j.job}: {len(j.built)} partitions, {j.rows} rows, {j.seconds:.1f} s")
    print("timings:", {k: round(v, 2) for k, v in engine.timings.items()})
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
