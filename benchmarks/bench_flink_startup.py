"""``python -m benchmarks.bench_flink --startup``: the Flink rollup job's start-up, each in a fresh
process (see :mod:`benchmarks.bench_flink`'s docstring); split from it, it shares its helpers."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_flink import _jvm_cpu, _load


def startup_child(root: str) -> None:
    """One start of the streaming job in this (fresh) process over an empty inbox under ``root``;
    prints ``STARTUP {json}``: wall and JVM CPU seconds per phase."""
    import json

    from jobs.flink import jvm
    from jobs.flink.stream import StreamConfig, ensure_plan, settings_of

    marks = [("start", time.perf_counter(), _jvm_cpu())]
    os.makedirs(f"{root}/inbox", exist_ok=True)
    cfg = StreamConfig(*(f"file://{root}/{d}" for d in ("inbox", "out", "late", "ck/checkpoints", "ck/savepoints")))
    archive = jvm.use_archive()
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    marks.append(("jvm", time.perf_counter(), _jvm_cpu()))
    conf = t_env.get_config()
    for key, value in settings_of(cfg).items():
        conf.set(key, value)
    plan, _ = ensure_plan(t_env, cfg)  # as jobs.flink.stream.submit: tables and plan when first, else nothing
    marks.append(("plan", time.perf_counter(), _jvm_cpu()))
    client = t_env.execute_sql(f"EXECUTE PLAN '{plan}'").get_job_client()
    while str(client.get_job_status().result()).rsplit(".", 1)[-1] != "RUNNING":
        time.sleep(0.02)
    marks.append(("running", time.perf_counter(), _jvm_cpu()))
    client.cancel().result()
    phases = {b[0]: (b[1] - a[1], b[2] - a[2]) for a, b in zip(marks, marks[1:], strict=False)}
    phases["total"] = (marks[-1][1] - marks[0][1], marks[-1][2] - marks[0][2])
    print("STARTUP " + json.dumps({"archive": archive, "phases": phases}), flush=True)


def startup(reps: int) -> None:
    """``--startup`` (module docstring)."""
    import json
    import subprocess

    from jobs.flink import jvm

    if not jvm.archive_path().is_file():
        t0 = time.perf_counter()
        print(f"building the class-data archive (watchlake flink warm) … {jvm.build()} "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
    results: dict[tuple[bool, str], list[dict[str, list[float]]]] = {}
    root = Path(__file__).resolve().parent.parent
    for r in range(reps):
        for cds in (False, True):
            work = tempfile.mkdtemp(prefix="bench-flink-start-")
            try:
                for start in ("first", "restart"):
                    env = {**os.environ, jvm.OFF_ENV: "1" if cds else "0", "PYTHONPATH": str(root)}
                    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_flink", "--startup-child", work],
                                          env=env, capture_output=True, text=True, timeout=600, cwd=root)
                    line = next((x for x in proc.stdout.splitlines() if x.startswith("STARTUP ")), None)
                    if line is None:
                        raise RuntimeError(f"start-up child failed:\n{proc.stderr[-2000:]}")
                    got = json.loads(line[len("STARTUP "):])
                    assert got["archive"] == cds, got
                    results.setdefault((cds, start), []).append(got["phases"])
                    ph = got["phases"]
                    print(f"  run {r + 1} {'with' if cds else 'without':7s} archive, {start:7s}: "
                          + ", ".join(f"{k} {w:.1f} s/{c:.1f} CPU-s" for k, (w, c) in ph.items()) + f" ({_load()})",
                          flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    print(f"start-up, process start → job RUNNING, median of {reps} fresh processes (wall; JVM CPU):")
    for start in ("first", "restart"):
        for cds in (False, True):
            runs = results[(cds, start)]
            w = statistics.median(p["total"][0] for p in runs)
            c = statistics.median(p["total"][1] for p in runs)
            jw = statistics.median(p["jvm"][0] for p in runs)
            print(f"  {start:7s} {'with' if cds else 'without':7s} archive: {w:5.1f} s, {c:5.1f} CPU-s "
                  f"(JVM + TableEnvironment {jw:.1f} s)")
        off = statistics.median(p["total"][1] for p in results[(False, start)])
        on = statistics.median(p["total"][1] for p in results[(True, start)])
        print(f"  {start:7s} CPU with ÷ without the archive: {on / off:.2f}")
