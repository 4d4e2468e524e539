"""``watchlake anomalies detect --engine flink``: the anomaly detector as a PyFlink streaming job.

The role RANDOM_CUT_FOREST played in Kinesis Data Analytics: a keyed streaming operator that
scores each point of each series. The job

* reads points ``t,v,sid`` (epoch ms, value, series id) from an **inbox folder of closed CSV
  files** (:mod:`jobs.flink_anomaly_io` writes them under a hidden name, then renames) with Flink's
  file monitor — once (a replay) or **continuously** —, **in the order the files were written**
  (:mod:`jobs.flink_anomaly_source`: by modification time, not in a directory scan's order);
* assigns **event time** ``t`` with a **watermark** ``t − lateness`` and groups each series'
  points into **event-time tumbling windows** in Flink SQL (``ARRAY_AGG`` over ``TUMBLE``):
  parsing, watermarks and grouping run in the JVM, with no per-point Python; a point whose window
  had already closed when it came is not dropped silently: the same query passes it on alone,
  marked with how far behind the watermark it was;
* keys the windows by the SQL column ``sid`` (in the JVM: no Python key selector, so a window
  crosses to Python once) and runs :class:`~jobs.flink_anomaly_score.ScoreBatches`, a
  ``KeyedProcessFunction`` that gets one record per series-window (the vector of its points) and
  steps that series' detector over them in time order: one Python call per window instead of per
  point. The detector lives in **keyed state** (checkpointed and restored by Flink) as a snapshot
  plus the points scored since, with a version; the subtask keeps the detectors in memory and
  rebuilds one from state only when its version is not the state's (after a restore);
* writes one NDJSON line per series-window into a ``FileSink``, whose part files become visible
  only when a checkpoint completes (exactly-once: :mod:`jobs.flink_anomaly_io` upserts them into
  the lake's ``anomalies`` table by ``(series_id, timestamp)``, so a replayed window replaces).

Scores equal the Python engine's (:mod:`jobs.anomaly_job`) bit for bit: the same detector code
steps through the same points in the same per-series order. A point at or before the last point a
series scored (a duplicate) is not scored twice: the output names it in ``late``; a point that came
behind the watermark is named in ``behind`` (kept in ``errors/anomalies/`` by the collector).
Python workers: ``thread`` (PyFlink's THREAD execution mode: the Python function runs inside the
TaskManager's JVM through PemJa — no Beam/gRPC hop; the TaskManager's interpreter is shared by its
scoring subtasks; measured no cheaper than ``process`` here: the per-window machinery cost the
same, ~11 CPU-s per 120,000 windows with a no-op scorer, and each state access crosses JNI),
``loopback`` (every Python function runs in this process, one interpreter, so
parallelism does not add CPU) or ``process`` (the TaskManager starts a Python worker process and
exchanges every window with it over Beam's gRPC channels; on the local mini-cluster one worker
process serves the job's scoring subtasks — observed with parallelism 2, with one TaskManager or
two —, so Python scoring uses one core there).
The same file runs on a cluster with ``flink run -py jobs/flink_anomaly.py -- --inbox DIR --out DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyflink.common import Types

from jobs.flink_anomaly_score import CACHE_SERIES, SNAPSHOT_POINTS
from pipeline.anomaly import DEFAULT_DETECTOR, DEFAULT_THRESHOLD

#: Replay windows: a day of 1-minute points (1,440) per Python call (for 5-minute points 5× as
#: long); bigger windows cost less per point (one state read/write and one crossing per window),
#: and scores do not depend on the window size.
REPLAY_WINDOW_S = 24 * 3600
#: How Python functions run: ``thread`` (inside the TaskManager's JVM), ``loopback`` (in this
#: process) or ``process`` (worker processes started by the TaskManager).
WORKERS = ("thread", "loopback", "process")
#: The folder holding the ``jobs`` and ``pipeline`` packages: put on the workers' ``PYTHONPATH``,
#: so that ``process`` workers import the same code as this client.
CODE_ROOT = str(Path(__file__).resolve().parents[1])
#: Windows per Python bundle (PyFlink's ``python.fn-execution.bundle.size``; it was 1,000 here).
#: Measured on 600k points in 5-minute windows: worker CPU 24.5 → 19.3 s, JVM 35.1 → 29.6 s.
BUNDLE_SIZE = 100_000
#: Live windows: a series' points reach the detector once their 5-minute window closes.
LIVE_WINDOW_S = 300
JOB_VERSION = 5
"""The anomaly job's operator layout (uids, keying, state encoding). Bump it whenever a change
makes older snapshots unrestorable: the run stage then scores from the first point again instead
of failing to restore (:meth:`jobs.run.flink_anomaly_stage.FlinkAnomalyStage._start`). Version 3:
the detector state became a snapshot, a log and a version (:mod:`jobs.flink_anomaly_score`);
version 4: the inbox is read by Flink's file monitor in modification-time order, and the points
behind the watermark are a second branch of the window query (:mod:`jobs.flink_anomaly_source`);
version 5: a point is behind by the job's high-water mark (an ``OVER`` aggregate with its own
state, ahead of the window operator) and taken out of the window's input — the SQL operators'
generated ids change, and a version-4 snapshot does not restore (its window state maps to no
operator)."""


def worker_path() -> list[str]:
    """What the job's Python functions need on their ``sys.path``: :data:`CODE_ROOT` and this
    interpreter's site-packages. A ``process`` worker is this venv's interpreter (``python.executable``)
    and finds its packages itself, but the ``thread`` mode's interpreter is embedded in the
    TaskManager's JVM from the *base* installation's shared library, without the venv's packages
    (not even PemJa itself): they are added here."""
    import sysconfig

    paths = sysconfig.get_paths()
    return list(dict.fromkeys([CODE_ROOT, paths["purelib"], paths["platlib"]]))


def _uri(path: str) -> str:
    """A Flink filesystem URI: ``file://``, ``s3://``… as given, a local path made absolute."""
    return path if "://" in path else Path(path).resolve().as_uri()


def configure(parallelism: int = 1, *, checkpoint_dir: str | None = None, checkpoint_ms: int = 0,
              restore: str | None = None, workers: str | None = None,
              remote: str | None = None) -> tuple[Any, Any]:
    """A streaming environment and its table environment (UTC, workers on this interpreter and
    this code); with ``checkpoint_dir``, exactly-once checkpoints every ``checkpoint_ms`` kept on
    cancel; with ``restore``, the job starts from that checkpoint or savepoint. ``workers``
    (:data:`WORKERS`) chooses how the jobs of these environments run their Python functions:
    ``thread`` anywhere (inside the TaskManagers' JVMs), ``loopback``/``process`` on a local
    mini-cluster; None leaves PyFlink's choice (loopback locally, processes on a cluster).
    ``remote`` (``host:port`` of a JobManager's REST endpoint) submits the jobs to that cluster
    instead of a mini-cluster in this process's JVM. With checkpoints, a failed job restarts
    from the newest one every second (as the rollup job does, :mod:`jobs.flink.stream`).

    PyFlink reads the worker mode when an environment is *created* (each environment's ``_open``
    starts a loopback server unless the mode is ``process``), so it is set here, around the
    creation of both environments — not at submission, which would be too late."""
    from pyflink.common import Configuration
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    conf = Configuration()
    conf.set_string("python.executable", sys.executable)  # workers use this venv
    conf.set_string("python.client.executable", sys.executable)
    conf.set_string("python.pythonpath", os.pathsep.join(worker_path()))
    conf.set_string("parallelism.default", str(parallelism))  # a remote environment takes only this
    if checkpoint_dir:
        conf.set_string("execution.checkpointing.dir", _uri(checkpoint_dir))
        conf.set_string("execution.checkpointing.externalized-checkpoint-retention",
                        "RETAIN_ON_CANCELLATION")
        conf.set_string("execution.checkpointing.num-retained", "2")
        conf.set_string("restart-strategy.type", "fixed-delay")
        conf.set_string("restart-strategy.fixed-delay.attempts", "1000")
        conf.set_string("restart-strategy.fixed-delay.delay", "1 s")
    if restore:
        conf.set_string("execution.state-recovery.path", restore)
    # bundles of up to BUNDLE_SIZE windows, still closed at least every second (Flink's default
    # bundle time) and before every checkpoint barrier: fewer bundle ends (each commits every
    # touched series' state and flushes the channel) cost less CPU in the worker and the JVM
    conf.set_string("python.fn-execution.bundle.size", str(BUNDLE_SIZE))
    if workers == "thread":
        conf.set_string("python.execution-mode", "thread")
    from jobs.flink import jvm

    jvm.use_archive()  # a JVM started here maps the classes of `watchlake flink warm`'s archive
    with python_workers(workers) if workers else contextlib.nullcontext():
        env = (StreamExecutionEnvironment.get_execution_environment(conf) if not remote
               else _remote_environment(remote, conf))
        env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
        env.set_parallelism(parallelism)
        if checkpoint_dir and checkpoint_ms > 0:
            env.enable_checkpointing(checkpoint_ms)
        t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.local-time-zone", "UTC")
    # the SQL part (file source, watermark, windows) runs as one subtask: one watermark, never
    # held back by an idle second reader; the keyed Python scoring runs at ``parallelism``
    t_env.get_config().set("table.exec.resource.default-parallelism", "1")
    # the windows in one aggregation, not a local pre-aggregation chained to the source plus a
    # global one: at parallelism 1 the local phase saves no network and resets its hash map at
    # every window end (live 5-minute windows, quiet box: 19.8 → 15.3 CPU-s per 450k points,
    # 43,060 → 53,009 points/s after start-up; bench_flink_anomaly)
    t_env.get_config().set("table.optimizer.agg-phase-strategy", "ONE_PHASE")
    return env, t_env


def _remote_environment(remote: str, conf: Any) -> Any:
    """A streaming environment whose jobs go to the JobManager at ``remote`` (``host:port``, its
    REST endpoint), shipping ``flink-python`` (in the package's ``opt/``, not on a standalone
    cluster's class path) with each job — what ``flink run -py`` does."""
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway

    from jobs.flink.cluster import flink_home

    host, _, port = remote.rpartition(":")
    conf.set_string("execution.target", "remote")
    gateway = get_gateway()
    jars = gateway.new_array(gateway.jvm.String, 1)
    jars[0] = str(next((flink_home() / "opt").glob("flink-python-*.jar")))
    j_env = gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment \
        .createRemoteEnvironment(host or "127.0.0.1", int(port or 8081), conf._j_configuration, jars)
    return StreamExecutionEnvironment(j_env)


@contextlib.contextmanager
def python_workers(mode: str) -> Iterator[None]:
    """Environments created inside run their jobs' Python functions in ``mode`` (:data:`WORKERS`).

    PyFlink decides when an environment is created (``StreamExecutionEnvironment`` and
    ``TableEnvironment`` both read the environment variable ``_python_worker_execution_mode`` in
    their ``_open``), whether its local jobs get a loopback server in this process (``loopback``)
    or worker processes started by the TaskManager (``process``; ``thread`` runs no worker, so it
    starts no loopback server either); the variable is restored on exit.
    Entering this only around ``execute`` has no effect (see :func:`configure`).

    Raises:
        ValueError: an unknown mode.
    """
    if mode not in WORKERS:
        raise ValueError(f"unknown Python worker mode {mode!r} (known: {', '.join(WORKERS)})")
    if mode == "loopback":
        quiet_worker_hangup()  # the job's end hangs up on the in-process worker
    name = "_python_worker_execution_mode"
    before = os.environ.get(name)
    # ``thread`` needs no worker at all (the execution mode in the configuration decides): no
    # loopback server in this process either
    os.environ[name] = "process" if mode == "thread" else mode
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


_HANGUP_THREAD = "read_grpc_client_inputs"


def quiet_worker_hangup() -> None:
    """Silence the one known shutdown error of a ``loopback`` Python worker (idempotent).

    When a job stops (a stop with savepoint, a cancel), the JVM closes the Beam data channel while
    the worker's reader thread (``read_grpc_client_inputs``) still waits on it; the thread dies on
    a gRPC ``CANCELLED`` ("Multiplexer hanging up") and Python prints its traceback, though no
    record is lost (the job ended at a checkpoint or savepoint). This hook drops exactly that
    exception of exactly that thread; every other thread exception goes to the previous hook.
    """
    import threading

    previous = threading.excepthook
    if getattr(previous, "_wl_hangup", False):
        return

    def hook(args: Any) -> None:
        thread = args.thread.name if args.thread is not None else ""
        code = getattr(args.exc_value, "code", None)
        try:
            cancelled = thread == _HANGUP_THREAD and callable(code) and code().name == "CANCELLED"
        except Exception:  # noqa: BLE001 - not a gRPC error: report it as usual
            cancelled = False
        if not cancelled:
            previous(args)

    hook._wl_hangup = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def build(env: Any, t_env: Any, inbox: str, out_dir: str, *, detector: str = DEFAULT_DETECTOR,
          threshold: float = DEFAULT_THRESHOLD, window_s: int = REPLAY_WINDOW_S,
          lateness_s: int = 60, monitor_s: float | None = None, cache_series: int = CACHE_SERIES,
          snapshot_points: int = SNAPSHOT_POINTS) -> None:
    """Add the scoring pipeline (inbox → windows → keyed detector → ``out_dir``) to ``env``.
    ``cache_series`` and ``snapshot_points``: see :class:`~jobs.flink_anomaly_score.ScoreBatches`.

    ``monitor_s`` set: the inbox is watched for new files every ``monitor_s`` seconds (the job
    never ends); unset: the files present are read once and the job ends after the last window.
    """
    from pyflink.common.serialization import Encoder
    from pyflink.datastream.connectors.file_system import FileSink, OutputFileConfig, RollingPolicy

    from jobs.flink_anomaly_source import INNER, ScoreOrReject, inbox_table, windows_and_behind

    if window_s <= 0 or lateness_s < 0:
        raise ValueError(f"window ({window_s} s) must be > 0 and lateness ({lateness_s} s) ≥ 0")
    t_env.create_temporary_view("wl_points", inbox_table(env, t_env, _uri(inbox), lateness_s=lateness_s,
                                                         monitor_s=monitor_s))
    windows = windows_and_behind(t_env, "wl_points", window_s, lateness_s)
    par = env.get_parallelism()  # set on the operators too: a remote environment's default is the cluster's
    scored = (_keyed_by_first_column(t_env.to_data_stream(windows), INNER)
              .process(ScoreOrReject(detector, threshold, cache_series=cache_series,
                                     snapshot_points=snapshot_points), output_type=Types.STRING())
              .name("score windows").uid("score-windows").set_parallelism(par))
    sink = (FileSink.for_row_format(_uri(out_dir), Encoder.simple_string_encoder())
            .with_output_file_config(OutputFileConfig.builder().with_part_suffix(".json").build())
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())  # visible per checkpoint
            .build())
    scored.sink_to(sink).name("scored windows").uid("scored-windows-sink").set_parallelism(par)


def _keyed_by_first_column(stream: Any, inner: Any) -> Any:
    """The rows ``(k, w)`` of ``stream`` keyed by ``k`` in the JVM, as a keyed stream of ``w``.

    PyFlink's ``key_by`` runs its key selector as a Python operator (every window would cross to
    Python and back once more); here the key is the row's first column, read by the JVM's
    ``KeyByKeySelector`` — the selector PyFlink itself puts behind that operator, which expects
    exactly ``(key, value)`` rows. The table-to-stream conversion's row type is declared as the
    plain row type ``inner`` the Python operators take (for ``sid STRING, ts ARRAY<BIGINT>,
    vs ARRAY<DOUBLE>, behind INT`` the classes the conversion produces: ``String``, ``Long[]``,
    ``Double[]``, ``Integer``).
    """
    from pyflink.datastream.data_stream import KeyedStream
    from pyflink.java_gateway import get_gateway

    j_stream = stream._j_data_stream
    j_stream.getTransformation().setOutputType(Types.ROW([Types.STRING(), inner]).get_java_type_info())
    j_keyed = j_stream.keyBy(get_gateway().jvm.KeyByKeySelector(), Types.ROW([Types.STRING()]).get_java_type_info())
    return KeyedStream(j_keyed, inner, stream)


def score_inbox(inbox: str, out_dir: str, *, detector: str = DEFAULT_DETECTOR,
                threshold: float = DEFAULT_THRESHOLD, window_s: int = REPLAY_WINDOW_S,
                parallelism: int = 2, workers: str = "process", cache_series: int = CACHE_SERIES) -> None:
    """Run the job once over the closed files in ``inbox`` (bounded), waiting for it to end; the
    scored windows are in ``out_dir`` (read them with :func:`jobs.flink_anomaly_io.read_out`).
    By default a worker process scores (off this process's interpreter), at parallelism 2."""
    env, t_env = configure(parallelism, workers=workers)
    build(env, t_env, inbox, out_dir, detector=detector, threshold=threshold, window_s=window_s,
          cache_series=cache_series)
    env.execute("watchlake-anomalies")


def run_flink(lake: Any, *, table: str = "metrics_5m", stat: str = "Average",
              detector: str = DEFAULT_DETECTOR, threshold: float = DEFAULT_THRESHOLD,
              start: Any = None, end: Any = None, namespace: str | None = None,
              metric: str | None = None, units: list[str] | None = None) -> Any:
    """Replay ``[start, end)`` through the Flink job and write the ``anomalies`` table (the same
    rows :func:`jobs.anomaly_job.detect` writes, under the job key ``<key>-flink``)."""
    import shutil
    import tempfile
    import time

    from jobs.anomaly_job import TRAINING, job_key
    from jobs.anomaly_lake import read_series
    from jobs.flink_anomaly_io import collect, write_inbox
    from pipeline.timeutil import to_utc

    series = list(read_series(lake, table, stat, namespace=namespace, metric=metric, units=units,
                              start=to_utc(start) - TRAINING if start else None, end=end))
    tmp = Path(tempfile.mkdtemp(prefix="wl-anomaly-", dir=os.environ.get("WATCHLAKE_FLINK_TMP")))
    try:
        inbox, out = tmp / "inbox", tmp / "out"
        fed = write_inbox(inbox, series, seq=0)
        t0 = time.perf_counter()
        if fed.points:
            score_inbox(str(inbox), str(out), detector=detector, threshold=threshold,
                        window_s=REPLAY_WINDOW_S if table == "metrics_1m" else 5 * REPLAY_WINDOW_S)
        seconds = time.perf_counter() - t0
        res = collect(lake, out, {sd.series_id: sd for sd in series},
                      key=job_key(detector, table, stat) + "-flink", stat=stat, detector=detector,
                      replace=(start, end), emit_from=start)
        res.points += fed.skipped  # read but not scorable (non-finite): counted, never scored
        res.flink_seconds = seconds  # type: ignore[attr-defined]
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Cluster entry point: score an inbox folder (``--follow``: keep watching it) into ``--out``."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--inbox", required=True, help="folder of CSV points sid,t (epoch ms),v")
    ap.add_argument("--out", required=True, help="folder for the scored windows")
    ap.add_argument("--detector", default=DEFAULT_DETECTOR)
    ap.add_argument("--window", type=int, default=REPLAY_WINDOW_S, help="window seconds")
    ap.add_argument("--follow", type=float, default=0.0, help="watch the inbox every N seconds")
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--workers", choices=WORKERS, default=None,
                    help="how Python runs (default: PyFlink's choice; thread: inside the TaskManagers)")
    args = ap.parse_args(argv)
    env, t_env = configure(args.parallelism, checkpoint_dir=args.checkpoint_dir,
                           checkpoint_ms=5000 if args.checkpoint_dir else 0, workers=args.workers)
    build(env, t_env, args.inbox, args.out, detector=args.detector, window_s=args.window,
          monitor_s=args.follow or None)
    env.execute("watchlake-anomalies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
