"""Flink anomaly scoring beside the library's Python engine, on the same series in the same run.

    .venv/bin/python -m benchmarks.bench_flink_anomaly [--small] [--runs thread:2:300,...]

Data: seeded 1-minute series (the ``metrics_1m`` Average shape; :func:`benchmarks.bench_anomaly.generate`:
daily cycle, noise, rare spikes). Prints

* the **Python engine**: the default detector stepped point by point per series, exactly the loop
  ``anomalies detect`` runs (wall and CPU points/s);
* **Flink start-up**: the first job (JVM + mini-cluster + Python worker) and a second job in the
  same JVM, each on a one-point inbox;
* the **Flink job** (:mod:`jobs.flink_anomaly`: CSV inbox → SQL event-time windows keyed in the
  JVM → keyed detector per series-window → checkpoint-committed file sink) per run (Python
  workers ``thread``, ``process`` or ``loopback``, parallelism, window size and optionally the
  scorer's detector cache — ``:0`` turns it off, so every window unpickles and pickles its
  series' detector, the state load the cache saves): wall time, points/s including
  start-up and after it (the marginal rate between a run on the first quarter of every series and
  a run on all of it, which cancels start-up), the same per CPU second (this process, where
  ``loopback`` Python functions run, plus the JVM and its worker processes), Python calls
  (windows) and the ratios to the Python engine;
* the **equality check**: every score and band of the Flink run against the Python engine's,
  compared bit for bit (the count of differing points must be 0).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_anomaly import generate, load

#: The runs compared (WORKERS:PARALLELISM:WINDOW_S[:CACHED_SERIES]): day windows (the replay) and the
#: live stage's 5-minute windows with worker processes (the default), the same without the detector
#: cache, and the thread mode (Python inside the TaskManager's JVM).
DEFAULT_RUNS = "process:2:86400,process:2:300,process:2:300:0,thread:2:300"
SMALL_RUNS = "process:2:86400,process:2:300,thread:2:300"


def python_engine(series: dict[str, tuple[list[float], list[float]]]) -> tuple[dict[str, list[Any]], float, float]:
    """Score every series point by point; returns the scores by series, wall s and CPU s."""
    from pipeline.anomaly import make_detector

    out: dict[str, list[Any]] = {}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for sid, (ts, vs) in series.items():
        step = make_detector().step
        rows = out[sid] = []
        for t, v in zip(ts, vs, strict=True):
            t_ms = int(round(t * 1000))
            sc = step(t_ms / 1000.0, v)
            rows.append((t_ms, v, sc.score, sc.expected, sc.lower, sc.upper, sc.warm))
    return out, time.perf_counter() - wall0, time.process_time() - cpu0


def as_series(series: dict[str, tuple[list[float], list[float]]]) -> list[Any]:
    from jobs.anomaly_lake import SeriesData

    out = []
    for sid, (ts, vs) in series.items():
        sd = SeriesData(sid, "Bench", "M", f'{{"Id":"{sid}"}}', "None", 60)
        sd.times, sd.values = list(ts), list(vs)
        out.append(sd)
    return out


def _children() -> tuple[dict[int, list[int]], dict[int, float]]:
    """Every process's children and CPU seconds (own + reaped children's), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    kids: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        kids.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return kids, cpu


class CpuWatch:
    """CPU seconds of this process's descendants over a job, sampled every ``interval`` s.

    ``process`` workers are the JVM's grandchildren (a shell starts them); when they exit their
    time is not reliably folded into the JVM's reaped-children time, so every descendant is
    sampled while the job runs and counted with its last sample (a worker's last ``interval``
    may be missed: a slight under-count of the workers). The sampling thread's own CPU time is
    in :attr:`own`, for the caller to take out of this process's time."""

    def __init__(self, interval: float = 0.1) -> None:
        import threading

        self.interval, self.own = interval, 0.0
        self.last: dict[int, float] = {}
        self.base = self._sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[int, float]:
        kids, cpu = _children()
        out: dict[int, float] = {}
        todo = list(kids.get(os.getpid(), []))
        while todo:
            pid = todo.pop()
            out[pid] = cpu.get(pid, 0.0)
            todo.extend(kids.get(pid, []))
        return out

    def _run(self) -> None:
        t0 = time.thread_time()
        while not self._stop.is_set():
            self.last.update(self._sample())
            self._stop.wait(self.interval)
        self.own = time.thread_time() - t0

    def stop(self) -> float:
        """Stop sampling; CPU seconds the descendants used since the watch started."""
        self._stop.set()
        self._thread.join()
        self.last.update(self._sample())
        return sum(c - self.base.get(pid, 0.0) for pid, c in self.last.items())


def wait_workers_gone(timeout: float = 20.0) -> None:
    """Wait until the JVM has no child processes left (the job's ``process`` workers have exited
    and been reaped, so their CPU time is in the JVM's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids, _ = _children()
        if not any(kids.get(jvm) for jvm in kids.get(os.getpid(), [])):
            return
        time.sleep(0.1)


def flink_run(work: Path, series: list[Any], window_s: int, *, workers: str = "process",
              parallelism: int = 2, cache: int | None = None) -> tuple[float, float, int, dict[str, list[Any]]]:
    """One bounded Flink job over ``series``; returns wall s and CPU s (this process, where
    ``loopback`` Python functions run, plus the JVM and its worker processes) of the job only,
    windows and the scores."""
    from jobs.flink_anomaly import score_inbox
    from jobs.flink_anomaly_io import read_out, write_inbox
    from jobs.flink_anomaly_score import CACHE_SERIES

    shutil.rmtree(work, ignore_errors=True)
    write_inbox(work / "inbox", series, seq=0)
    wait_workers_gone()
    t0, c0, watch = time.perf_counter(), time.process_time(), CpuWatch()
    score_inbox(str(work / "inbox"), str(work / "out"), window_s=window_s, workers=workers,
                parallelism=parallelism, cache_series=CACHE_SERIES if cache is None else cache)
    wall = time.perf_counter() - t0
    wait_workers_gone()
    tree = watch.stop()
    cpu = time.process_time() - c0 - watch.own + tree
    got: dict[str, list[Any]] = {}
    windows = 0
    for _, ws in read_out(work / "out"):
        for w in ws:
            windows += 1
            got.setdefault(w["sid"], []).extend(zip(w["t"], w["v"], w["score"], w["expected"], w["lower"],
                                                    w["upper"], w["warm"], strict=True))
    return wall, cpu, windows, {sid: sorted(rows) for sid, rows in got.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--small", action="store_true", help="20 series × 5,000 points (a few minutes)")
    ap.add_argument("--runs", default="", help="comma-separated WORKERS:PARALLELISM:WINDOW_S runs "
                    f"(default {DEFAULT_RUNS}; --small: {SMALL_RUNS})")
    args = ap.parse_args(argv)
    n_series, n_points = (20, 5_000) if args.small else (60, 10_000)
    specs = (args.runs or (SMALL_RUNS if args.small else DEFAULT_RUNS)).split(",")
    runs = [(f[0], int(f[1]), int(f[2]), int(f[3]) if len(f) > 3 else None) for f in (r.split(":") for r in specs)]
    data = load(generate(n_series, n_points))  # t in epoch seconds, 1-minute steps
    n = sum(len(ts) for ts, _ in data.values())
    print(f"data: {n_series} series × {n_points:,} 1-minute points = {n:,} points; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    gold, py_wall, py_cpu = python_engine(data)
    py_rate = n / py_wall
    print(f"python engine      {py_wall:7.2f} s wall  {py_rate:9,.0f} points/s wall  "
          f"{n / py_cpu:9,.0f} points/s CPU")
    series = as_series(data)
    tmp = Path(tempfile.mkdtemp(prefix="wl-bench-flink-anomaly-"))
    try:
        one = [type(series[0])(series[0].series_id, "Bench", "M", "{}", "None", 60,
                               series[0].times[:1], series[0].values[:1])]
        cold, _, _, _ = flink_run(tmp / "cold", one, 86400, workers=runs[0][0], parallelism=1)
        warm, warm_cpu, _, _ = flink_run(tmp / "warm", one, 86400, workers=runs[0][0], parallelism=1)
        print(f"flink start-up     {cold:7.2f} s first job (JVM, mini-cluster, Python worker), "
              f"{warm:.2f} s next job ({warm_cpu:.2f} CPU s)")
        quarter = [type(sd)(sd.series_id, "Bench", "M", "{}", "None", 60, sd.times[:len(sd.times) // 4],
                            sd.values[:len(sd.values) // 4]) for sd in series]
        n_q = sum(len(sd.times) for sd in quarter)
        flink_run(tmp / "jit", quarter, runs[0][2], workers=runs[0][0], parallelism=runs[0][1])  # warms the JIT
        for workers, par, window_s, cache in runs:
            # marginal rate: the same job on a quarter of the points and on all of them; the
            # difference cancels start-up, planning and the last checkpoint
            wall, cpu, calls, got = flink_run(tmp / "all", series, window_s, workers=workers, parallelism=par,
                                              cache=cache)
            wall_q, cpu_q, _, _ = flink_run(tmp / "q", quarter, window_s, workers=workers, parallelism=par,
                                            cache=cache)
            after = (n - n_q) / max(wall - wall_q, 1e-9)
            cpu_after = (n - n_q) / max(cpu - cpu_q, 1e-9)
            diff = sum(1 for sid, rows in gold.items()
                       for a, b in zip(rows, got.get(sid, []), strict=False) if a != b)
            diff += sum(abs(len(rows) - len(got.get(sid, []))) for sid, rows in gold.items())
            label = f"{workers}{'' if cache is None else f' cache {cache}'}"
            print(f"flink {label:>8} ×{par} {window_s:>6} s windows  {wall:7.2f} s wall  "
                  f"{n / wall:9,.0f} points/s incl. start-up  {after:9,.0f} after start-up  "
                  f"({calls:,} Python calls, {n / calls:.0f} points each)  {after / py_rate:.2f}× the Python engine"
                  f"  [load {os.getloadavg()[0]:.1f}]")
            print(f"  CPU              {cpu:.2f} CPU s (JVM + Python workers; {cpu - cpu_q:.2f} for the last "
                  f"{n - n_q:,} points)  {cpu_after:9,.0f} points/s per "
                  f"CPU s after start-up  {cpu_after * py_cpu / n:.2f}× the Python engine's per CPU s")
            print(f"  equality         {diff} of {n:,} points differ from the Python engine (bit for bit)")
            if diff:
                return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
