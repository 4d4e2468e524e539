"""Anomaly detection: detector throughput, state size, NAB scores, job and Flink throughput.

    .venv/bin/python -m benchmarks.bench_anomaly [--small] [--flink]

* **Throughput** of the default detector (``multiview``) streaming one point at a time over
  seeded 1-minute series kept under ``benchmarks/.data/anomaly/`` — CPU time of this process
  (points/s per core) and wall time — against the rolling z-score baseline in Python and the
  bare tool: polars computing a rolling z-score per series, vectorised, on the same data.
* **State per series**: pickled detector size after 1,000 points and after the whole series.
* **NAB** (standard profile, plus the two other profiles at the fixed threshold): nab-dev
  (../shared/data, real CloudWatch), the synthetic labelled corpus the threshold was chosen on,
  and the held-out synthetic shapes — at the fixed threshold 0.5 and at the NAB-optimised one.
* **Job**: ``anomalies detect`` end to end (DuckDB read of ``metrics_5m``, detection, Parquet
  write) on a temporary lake.
* ``--flink``: the PyFlink job on the same points as the Python engine (one JVM start).
"""

from __future__ import annotations

import argparse
import pickle
import random
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data" / "anomaly"
REPO = Path(__file__).resolve().parents[1]


def generate(n_series: int, n_points: int) -> Path:
    """Seeded series as ``sid<TAB>t<TAB>value`` (1-minute steps, daily cycle, noise, spikes)."""
    import math

    path = DATA / f"points_{n_series}x{n_points}.tsv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    with path.open("w") as fh:
        for s in range(n_series):
            lvl, amp = rng.uniform(10, 80), rng.uniform(0, 20)
            for i in range(n_points):
                v = lvl + amp * math.sin(2 * math.pi * i / 1440) + rng.gauss(0, 2)
                if rng.random() < 0.001:
                    v += rng.uniform(20, 60)
                fh.write(f"s{s:04d}\t{1_790_000_000 + 60 * i}\t{v!r}\n")
    return path


def load(path: Path) -> dict[str, tuple[list[float], list[float]]]:
    series: dict[str, tuple[list[float], list[float]]] = {}
    with path.open() as fh:
        for line in fh:
            sid, t, v = line.split("\t")
            ts, vs = series.setdefault(sid, ([], []))
            ts.append(float(t))
            vs.append(float(v))
    return series


def bench_detector(series: dict[str, tuple[list[float], list[float]]], name: str) -> dict:
    from pipeline.anomaly import make_detector

    n = sum(len(v) for _, v in series.values())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sizes = []
    for ts, vs in series.values():
        det = make_detector(name)
        step = det.step
        for t, v in zip(ts, vs, strict=True):
            step(t, v)
        sizes.append(len(pickle.dumps(det)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"points": n, "cpu_pps": n / cpu, "wall_pps": n / wall, "state_bytes": max(sizes)}


def bench_polars(path: Path, window: int = 288) -> dict:
    import polars as pl

    df = pl.read_csv(path, separator="\t", has_header=False,
                     new_columns=["sid", "t", "v"], schema_overrides={"v": pl.Float64})
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = df.with_columns(
        ((pl.col("v") - pl.col("v").rolling_mean(window).shift(1).over("sid"))
         / pl.col("v").rolling_std(window).shift(1).over("sid")).abs().alias("z"))
    assert out.height == df.height
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"points": df.height, "cpu_pps": df.height / cpu, "wall_pps": df.height / wall}


def state_growth() -> tuple[int, int]:
    from pipeline.anomaly.multiview import MultiViewDetector

    det, rng, sizes = MultiViewDetector(), random.Random(3), []
    for i in range(50_000):
        det.step(60.0 * i, rng.gauss(10, 1))
        if i + 1 in (1_000, 50_000):
            sizes.append(len(pickle.dumps(det)))
    return sizes[0], sizes[1]


def nab_scores(small: bool) -> list[tuple[str, str, float, float, float]]:
    """``(set, detector, score@0.5, best threshold, best score)`` rows, standard profile."""
    from pipeline.anomaly import DEFAULT_THRESHOLD, make_detector, nab
    from pipeline.anomaly.series_io import read_series
    from pipeline.anomaly.synth import corpus, heldout_corpus

    sets: dict[str, list] = {}
    root = REPO.parent / "shared" / "data" / "nab-dev"
    if root.exists():
        wins = nab.load_windows(root / "labels" / "windows.json")
        rows = []
        for f in sorted((root / "data").glob("*.csv")):
            ts, vs, _ = read_series(f)
            rows.append(([t.timestamp() for t in ts], vs,
                         nab.window_rows([t.replace(tzinfo=None) for t in ts], wins[f.name])))
        sets["nab-dev (real)"] = rows
    dev = corpus(range(0, 28 if small else 70))
    sets["synthetic (threshold set)"] = [([t.timestamp() for t in s.timestamps], s.values,
                                          s.windows) for s in dev]
    ho = heldout_corpus(range(5000, 5020 if small else 5060))
    sets["synthetic held-out"] = [([t.timestamp() for t in s.timestamps], s.values, s.windows)
                                  for s in ho]
    out = []
    for set_name, rows in sets.items():
        for name in ("multiview", "zscore"):
            files = []
            for ts, vs, w in rows:
                det = make_detector(name)
                files.append(([det.step(t, v).score for t, v in zip(ts, vs, strict=True)], w))
            at = nab.corpus_score(files, DEFAULT_THRESHOLD)
            thr, best = nab.optimise_threshold(files, top=1000)
            out.append((set_name, name, at, thr, best))
            if name == "multiview":
                for prof in ("reward_low_FP", "reward_low_FN"):
                    sc = nab.corpus_score(files, DEFAULT_THRESHOLD, nab.PROFILES[prof])
                    out.append((set_name, f"multiview {prof}", sc, float("nan"), float("nan")))
    return out


def bench_job(n_series: int, n_points: int) -> dict:
    import pyarrow as pa

    from jobs.anomaly_job import detect
    from pipeline.lake import Lake
    from pipeline.rollup.schema import ROLLUP

    lake = Lake(tempfile.mkdtemp(prefix="wl-bench-anomaly-", dir=DATA))
    rng = random.Random(11)
    cols: dict[str, list] = {k: [] for k in ROLLUP.names}
    t0 = 1_790_000_000_000
    for s in range(n_series):
        for i in range(n_points):
            v = 50 + rng.gauss(0, 3)
            for k, val in (("_wl_series_id", f"s{s}"), ("namespace", "Bench"),
                           ("metric_name", "M"), ("dimensions", f'{{"Id":"{s}"}}'),
                           ("unit", "None"), ("timestamp", t0 + 300_000 * i), ("period", 300),
                           ("sample_count", 5.0), ("sum", 5 * v), ("min", v), ("max", v),
                           ("sketch_bins", []), ("sketch_bin_counts", []), ("sketch_count", 0.0)):
                cols[k].append(val)
    table = pa.Table.from_pydict(cols, schema=ROLLUP)
    lake.write_partition("metrics_5m", {"dt": "2026-09-21"}, table)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    res = detect(lake)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"points": res.points, "rows": res.rows, "cpu_pps": res.points / cpu,
            "wall_pps": res.points / wall}


def bench_flink(path: Path, series: dict) -> dict:
    from jobs.flink_anomaly import score_file

    n = sum(len(v) for _, v in series.values())
    wall0 = time.perf_counter()
    records = score_file(str(path))
    wall = time.perf_counter() - wall0
    assert len(records) == n
    py = bench_detector(series, "multiview")
    return {"points": n, "wall_pps": n / wall, "wall_s": wall, "python_wall_pps": py["wall_pps"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="anomaly detection benchmark")
    ap.add_argument("--small", action="store_true", help="~1 minute run")
    ap.add_argument("--flink", action="store_true", help="also time the PyFlink job")
    args = ap.parse_args(argv)
    n_series, n_points = (20, 10_000) if args.small else (100, 20_000)
    path = generate(n_series, n_points)
    series = load(path)
    print(f"data: {n_series} series × {n_points:,} 1-minute points = {n_series * n_points:,} "
          f"({path.relative_to(REPO)})")
    mv = bench_detector(series, "multiview")
    zs = bench_detector(series, "zscore")
    pl_ = bench_polars(path)
    print("\n== detector throughput (one point at a time, this process)")
    for name, r in (("multiview (default)", mv), ("zscore (python)", zs),
                    ("polars rolling z-score (vectorised, bare tool)", pl_)):
        print(f"  {name:48s} {r['cpu_pps']:>12,.0f} points/s per core (CPU)  "
              f"{r['wall_pps']:>12,.0f} points/s wall")
    print(f"  ratio multiview / polars (CPU)                   {mv['cpu_pps'] / pl_['cpu_pps']:.3f}")
    print(f"  target ≥ 100,000 points/s per core: {'MET' if mv['cpu_pps'] >= 1e5 else 'NOT MET'}")
    a, b = state_growth()
    print("\n== state per series (pickled multiview detector)")
    print(f"  after 1,000 points: {a:,} B; after 50,000 points: {b:,} B; "
          f"after {n_points:,}: {mv['state_bytes']:,} B (bounded: {'yes' if b <= a * 1.05 else 'NO'})")
    print("\n== NAB, standard profile (fixed threshold 0.5 | NAB-optimised threshold)")
    for set_name, det, at, thr, best in nab_scores(args.small):
        opt = "" if thr != thr else f"   optimised {best:6.1f} at {thr:.4g}"
        fixed = f"{at:6.1f}" if det.startswith("multiview") else "     -"  # 0.5 is its scale only
        print(f"  {set_name:27s} {det:26s} {fixed}{opt}")
    j = bench_job(10 if args.small else 50, 2016 if args.small else 4032)
    print("\n== anomalies detect job (DuckDB read + detect + Parquet write, metrics_5m)")
    print(f"  {j['points']:,} points, {j['rows']:,} rows written: {j['cpu_pps']:,.0f} points/s "
          f"(CPU), {j['wall_pps']:,.0f} points/s wall")
    if args.flink:
        fpath = generate(10, 2_000 if args.small else 10_000)
        f = bench_flink(fpath, load(fpath))
        print("\n== PyFlink keyed streaming job (local mini-cluster, parallelism 1)")
        print(f"  {f['points']:,} points in {f['wall_s']:.1f} s including JVM start: "
              f"{f['wall_pps']:,.0f} points/s wall; Python engine on the same points "
              f"{f['python_wall_pps']:,.0f} points/s (ratio {f['wall_pps'] / f['python_wall_pps']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
