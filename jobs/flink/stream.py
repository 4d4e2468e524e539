"""The streaming rollup job: raw metrics segments → 1-minute window results, continuously.

Flink SQL only (:mod:`jobs.flink.sql`), no Python in the per-row path, so the job runs on any
Flink 2.x cluster that has the filesystem connector and the CSV format (both ship in the
``apache-flink`` package's ``lib/``) and no Python at all on the TaskManagers:

* source: the filesystem connector in **continuous mode** over the lake's segment inbox
  (``_flink/inbox/metrics``, :mod:`pipeline.loader.segments`), discovering new closed files every
  ``monitor_seconds``; event time ``ts`` with a watermark ``out_of_orderness`` seconds behind the
  newest line;
* one event-time ``TUMBLE`` window of 60 s per series: partials and sketch bin lists;
* sinks: the filesystem connector's two-phase file sink (part files visible only once the
  checkpoint after them completes) under ``_flink/out/rollup_1m`` and, for lines that arrive
  behind the watermark, ``_flink/out/late``; :mod:`jobs.flink.committer` moves both into the lake;
* checkpoints every ``checkpoint_seconds`` to ``_flink/checkpoints`` (retained on cancellation, so
  a restart resumes from the newest: :func:`latest_checkpoint`); a fixed max parallelism keeps
  savepoints restorable at another parallelism.

On a cluster: ``flink run -d -py jobs/flink/stream.py -- --lake /shared/lake`` (README, "Flink").
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from jobs.flink import sql as fsql

if TYPE_CHECKING:
    from pipeline.lake import Lake

CHECKPOINTS = "_flink/checkpoints"
SAVEPOINTS = "_flink/savepoints"
JOB_NAME = "watchlake-rollup-1m"


@dataclass(frozen=True)
class StreamConfig:
    """Where the streaming job reads and writes (URIs Flink understands) and how it runs."""

    inbox: str
    out: str
    late: str
    checkpoints: str
    savepoints: str
    out_of_orderness: int = 60
    monitor_seconds: float = 1.0
    checkpoint_seconds: float = 2.0
    roll_seconds: float = 1.0
    parallelism: int = 1
    max_parallelism: int = 128

    @classmethod
    def for_lake(cls, lake: Lake, **kw: Any) -> StreamConfig:
        """The folders of ``lake`` (``file://`` for a local lake, ``s3://`` needs Flink's S3 plugin)."""
        from jobs.flink.committer import LATE, OUT
        from pipeline.loader.segments import INBOX

        def uri(rel: str) -> str:
            return lake.uri(rel) if lake.is_s3 else "file://" + lake.path(rel)

        return cls(uri(INBOX), uri(OUT), uri(LATE), uri(CHECKPOINTS), uri(SAVEPOINTS), **kw)

    def with_(self, **kw: Any) -> StreamConfig:
        return replace(self, **kw)


def settings_of(cfg: StreamConfig, *, restore: str | None = None) -> dict[str, str]:
    """The job's Flink configuration."""
    conf = {"parallelism.default": str(cfg.parallelism), "pipeline.max-parallelism": str(cfg.max_parallelism),
            "table.local-time-zone": "UTC", "pipeline.name": JOB_NAME,
            "table.exec.source.idle-timeout": "5 s",  # a source subtask without a split must not hold the watermark
            "execution.checkpointing.interval": f"{max(1, round(cfg.checkpoint_seconds * 1000))} ms",
            "execution.checkpointing.storage": "filesystem", "execution.checkpointing.dir": cfg.checkpoints,
            "execution.checkpointing.savepoint-dir": cfg.savepoints,
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "execution.checkpointing.num-retained": "2",
            "restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "1000",
            "restart-strategy.fixed-delay.delay": "1 s", **fsql.PLANNER_OPTIONS}
    if restore:
        conf["execution.state-recovery.path"] = restore
    return conf


def statements(cfg: StreamConfig) -> tuple[list[str], list[str]]:
    """(DDL, INSERTs) of the job. Its tables are catalog tables (the session's in-memory catalog),
    not temporary ones, so the compiled plan holds their whole definitions and a start from an
    existing plan declares nothing (:func:`ensure_plan`)."""
    tables = [fsql.source_ddl("wl_segments", cfg.inbox, out_of_orderness=cfg.out_of_orderness,
                              monitor_seconds=cfg.monitor_seconds),
              fsql.sink_ddl("wl_rollup_1m", fsql.OUT_SCHEMA, cfg.out, roll_seconds=cfg.roll_seconds),
              fsql.sink_ddl("wl_late", fsql.LATE_SCHEMA, cfg.late, roll_seconds=cfg.roll_seconds)]
    ddl = [t.replace("CREATE TEMPORARY TABLE ", "CREATE TABLE ", 1) for t in tables]
    ddl += fsql.views("wl_points", "wl_segments")
    return ddl, [fsql.rollup_insert("wl_rollup_1m", "wl_points"),
                 fsql.late_insert("wl_late", "wl_points", out_of_orderness=cfg.out_of_orderness)]


def submit(cfg: StreamConfig, *, restore: str | None = None, remote: str | None = None) -> Any:
    """Start the job; returns its ``TableResult`` (``get_job_client()`` controls it). In-process
    mini-cluster by default; ``remote`` (``host:port`` of a JobManager's REST endpoint) submits to
    that cluster; under ``flink run`` the CLI's cluster is used."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from jobs.flink import jvm

    jvm.use_archive()   # a JVM started by this call maps the classes of `watchlake flink warm`'s archive
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    for key, value in settings_of(cfg, restore=restore).items():
        conf.set(key, value)
    if remote:
        host, _, port = remote.rpartition(":")
        for key, value in {"execution.target": "remote", "rest.address": host or "127.0.0.1",
                           "rest.port": port or "8081"}.items():
            conf.set(key, value)
    plan, _ = ensure_plan(t_env, cfg)
    return t_env.execute_sql(f"EXECUTE PLAN '{plan}'")


def ensure_plan(t_env: Any, cfg: StreamConfig) -> tuple[str, bool]:
    """The job's plan at :func:`plan_path`, compiled in ``t_env`` (its tables declared first) unless
    it exists; returns (the plan's URI, whether it was compiled now). An existing plan needs no
    tables declared: it holds their whole definitions (catalog tables, compiled with Flink's
    default ``table.plan.compile.catalog-objects = ALL``), so a restart skips the DDL (~0.4 s)."""
    plan = plan_path(cfg)
    if plan.startswith("file://") and os.path.exists(plan.removeprefix("file://")):
        return plan, False
    ddl, inserts = statements(cfg)
    for stmt in ddl:
        t_env.execute_sql(stmt)
    t_env.execute_sql(f"COMPILE PLAN '{plan}' IF NOT EXISTS FOR STATEMENT SET BEGIN {'; '.join(inserts)}; END")
    return plan, True


def compile_plan(cfg: StreamConfig) -> tuple[str, bool]:
    """Compile the job's plan for ``cfg`` ahead of its first start (``watchlake flink warm``), in a
    JVM of this process, so that the first :func:`submit` executes it as a restart does (planning
    the job costs ~1.8 s of a first start). Returns (the plan's URI, whether it was compiled now —
    False: it existed)."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from jobs.flink import jvm

    jvm.use_archive()
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in settings_of(cfg).items():
        t_env.get_config().set(key, value)
    return ensure_plan(t_env, cfg)


def plan_path(cfg: StreamConfig) -> str:
    """Where the job's compiled plan lives: beside the checkpoints, named after its SQL. Running the
    compiled plan (not the SQL) keeps every operator's uid stable, so a savepoint restores at another
    parallelism or after a restart of the client; changed SQL compiles a new plan."""
    import hashlib

    ddl, inserts = statements(cfg)
    digest = hashlib.sha1("\n".join(ddl + inserts).encode(), usedforsecurity=False).hexdigest()[:16]
    return f"{cfg.checkpoints.rsplit('/', 1)[0]}/plans/rollup-{digest}.json"


def latest_checkpoint(folder: str) -> str | None:
    """The newest completed checkpoint (``…/<job>/chk-N`` holding ``_metadata``) below a local
    checkpoint folder, or None."""
    best: tuple[float, str] | None = None
    if not os.path.isdir(folder):
        return None
    for job in os.listdir(folder):
        jdir = os.path.join(folder, job)
        if not os.path.isdir(jdir):
            continue
        for chk in os.listdir(jdir):
            meta = os.path.join(jdir, chk, "_metadata")
            if chk.startswith("chk-") and os.path.exists(meta):
                t = os.path.getmtime(meta)
                if best is None or t > best[0]:
                    best = (t, os.path.join(jdir, chk))
    return best[1] if best else None


def main(argv: list[str] | None = None) -> int:
    """``python jobs/flink/stream.py`` (mini-cluster, runs until stopped) or ``flink run -d -py …``."""
    from pipeline.config import load_settings
    from pipeline.lake import Lake
    from pipeline.loader import segments

    ap = argparse.ArgumentParser(description="watchlake streaming rollup job (Flink SQL)")
    ap.add_argument("--lake", help="lake root (default from watchlake.toml / env)")
    ap.add_argument("--config", help="watchlake.toml to read")
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--out-of-orderness", type=int, default=60, help="watermark delay, seconds")
    ap.add_argument("--restore", help="savepoint or checkpoint to resume from")
    ap.add_argument("--detach", action="store_true", help="return once submitted (with `flink run -d`)")
    args = ap.parse_args(argv)
    settings = load_settings(args.config, overrides={"lake.root": args.lake} if args.lake else None)
    lake = Lake.from_settings(settings)
    segments.enable(lake)
    cfg = StreamConfig.for_lake(lake, parallelism=args.parallelism, out_of_orderness=args.out_of_orderness)
    result = submit(cfg, restore=args.restore)
    client = result.get_job_client()
    print(f"submitted {JOB_NAME}: job {client.get_job_id() if client else '?'}", flush=True)
    if not args.detach:
        result.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
