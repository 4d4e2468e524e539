"""Anomaly detection: detector throughput, state size, NAB scores, job and Flink throughput.

    .venv/bin/python -m benchmarks.bench_anomaly [--small] [--flink]

* **Throughput** of the default detector (``context``), of ``multiview`` and of the ``art`` option
  (:mod:`pipeline.anomaly.art`) streaming one point at
  a time over seeded 1-minute series kept under ``benchmarks/.data/anomaly/`` — CPU time of this
  process (points/s per core) and wall time — against the rolling z-score baseline in Python and
  the bare tool: polars computing a rolling z-score per series, vectorised, on the same data.
* **State per series**: pickled detector size after 1,000 points and after the whole series.
* **NAB** on the 41 vendored development files (``tests/data/nab-corpus``) with NAB's scorer and
  per-profile threshold optimisation (:mod:`benchmarks.nab`, which reproduces HTM's published
  68.94 / 62.19 / 73.48): all files, per group, and leave-one-group-out (:mod:`benchmarks.nab_eval`).
* **Synthetic** (full run only): NAB scores on the labelled synthetic corpora
  (:mod:`benchmarks.anomaly_synth`: the set multiview's threshold was chosen on, held-out shapes).
* **False alarms**: alerts per series per week on four weeks of generated normal traffic for the
  15 sample series (5-minute Averages, and for the default also the 1-minute ones ``watchlake run``
  scores), and the detection delay on the generator's labelled incidents; false alerts on
  anomaly-free CloudWatch shapes (:mod:`benchmarks.quiet_shapes`, every 5 minutes and every minute).
* **Job**: ``anomalies detect`` end to end (DuckDB read of ``metrics_5m``, detection, Parquet
  write) on a temporary lake.
* ``--flink``: the PyFlink job on the same points as the Python engine (one JVM start).
"""

from __future__ import annotations

import argparse
import math
import pickle
import random
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

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


def bench_detector(series: dict[str, tuple[list[float], list[float]]], name: str,
                   params: dict | None = None) -> dict:
    from pipeline.anomaly import make_detector

    n = sum(len(v) for _, v in series.values())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sizes = []
    for ts, vs in series.values():
        det = make_detector(name, **(params or {}))
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


def state_growth(name: str) -> tuple[int, int]:
    from pipeline.anomaly import make_detector

    det, rng, sizes = make_detector(name), random.Random(3), []
    for i in range(50_000):
        det.step(60.0 * i, rng.gauss(10, 1))
        if i + 1 in (1_000, 50_000):
            sizes.append(len(pickle.dumps(det)))
    return sizes[0], sizes[1]


def _parse(label: str) -> tuple[str, dict[str, float]]:
    """A detector label's name and parameters: ``context block=0`` → ``("context", {"block": 0.0})``."""
    name, *kv = label.split()
    return name, {k: float(v) for k, v in (p.split("=") for p in kv)}


def _make(label: str) -> Any:
    """A fresh detector from a label (:func:`_parse`)."""
    from pipeline.anomaly import make_detector

    name, params = _parse(label)
    return make_detector(name, **params)


def _scorer(label: str) -> Any:
    """Scores of one series (times, values) by a fresh detector of ``label`` (``context gaps=0``)."""
    return lambda times, values: [s.score for s in map(_make(label).step, times, values)]


#: The previous defaults: no run judge (session 26), bin 0 extrapolated, then one multiview and the 4-value judge
#: (both session 20), a near-alert silence 3 points long, then none (19), judges that read across gaps (until 18), no
#: resonance judge (until 11), all five multiview views (2), no 4-point judge (``judges=2``: less ``log10 2``) and a
#: 3,000-point half-life (1).
RUNLESS, BIN0LESS = "context runs=0", "context runs=0 bin0=0"
BAGLESS = "context runs=0 halflife=1000 block=4 bin0=0"  # every earlier default: no run judge
NEAR3 = f"{BAGLESS} near=3"
NEARLESS = f"{BAGLESS} near=0"
GAPLESS = f"{BAGLESS} gaps=0 near=0"
PREVIOUS = f"{BAGLESS} art=0 gaps=0 near=0"
SECOND = f"{BAGLESS} slow_views=1 art=0 gaps=0 near=0"
FIRST = "context runs=0 block=0 judges=2 halflife=3000 slow_views=1 art=0 gaps=0 near=0 bin0=0"
#: ``context`` settings compared before gaps were muted (resonance judge on/off; without it, the shift and drift
#: views on/off × half-life 600–3,000 × ``block`` 0/4): nested selection picks among them.
CONTEXT_VARIANTS = (GAPLESS, PREVIOUS, *(f"context runs=0 {v} art=0 gaps=0 near=0 bin0=0" for v in (
    "halflife=600 block=4", "halflife=2000 block=4", "halflife=3000 block=4", "halflife=1000 block=0 judges=2")),
    SECOND, *(f"context runs=0 {v} slow_views=1 art=0 gaps=0 near=0 bin0=0" for v in (
        "halflife=1000 block=0 judges=2", "halflife=3000 block=4")), FIRST)


def nab_41(names: tuple[str, ...], nested: tuple[tuple[str, ...], ...] = ()) -> list[str]:
    """All-41 / per-group / leave-one-group-out NAB scores of each detector (nab_eval); a name
    may carry parameters: ``context block=0``. For each set of labels in ``nested``, also the
    leave-one-group-out score when the variant itself is chosen inside each fold among them."""
    from benchmarks.nab_eval import evaluate, nested_logo, render, run

    out, runs = [], {}
    for label in dict.fromkeys((*names, *(lab for labels in nested for lab in labels))):
        scored, spent = run(*_parse(label))
        runs[label] = scored
        if label not in names:
            continue
        n = sum(len(s.scores) for s in scored)
        out.append(f"  -- {label}: {len(scored)} files, {n:,} points "
                   f"({n / spent:,.0f} points/s including CSV parsing)")
        out.extend(render(evaluate(scored)))
    for labels in nested:
        res = nested_logo({k: runs[k] for k in labels})
        out.append(f"  -- nested leave-one-group-out (variant and threshold chosen on the other five "
                   f"groups, among: {', '.join(labels)})")
        for prof, (val, picks) in res.items():
            out.append(f"    {prof:15s} {val:6.2f}   picked: " + ", ".join(
                f"{p} ({picks.count(p)}/{len(picks)})" for p in dict.fromkeys(picks)))
    return out


def synthetic_sets(names: tuple[str, ...]) -> list[str]:
    """NAB scores (optimised threshold, and at the fixed 0.5) on the labelled synthetic corpora of
    :mod:`benchmarks.anomaly_synth` — the set multiview's threshold was chosen on, and the
    held-out shapes."""
    from benchmarks import nab
    from benchmarks.anomaly_synth import corpus, heldout_corpus
    from pipeline.anomaly import DEFAULT_THRESHOLD

    out = ["  set                                   detector   optimised std / low-FP / low-FN (thr)"
           "   at 0.5"]
    for set_name, series in (("synthetic threshold-choice set (70)", corpus(range(0, 70))),
                             ("synthetic held-out shapes (60)", heldout_corpus(range(5000, 5060)))):
        for name in names:
            files = []
            for s in series:
                det: Any = _make(name)
                files.append(([det.step(t.timestamp(), v).score
                               for t, v in zip(s.timestamps, s.values, strict=True)], s.windows))
            res = [nab.optimise_threshold(files, p) for p in nab.PROFILES.values()]
            at = nab.corpus_score(files, DEFAULT_THRESHOLD)
            out.append(f"  {set_name:37s} {name:30s} " + " / ".join(f"{r[1]:.2f}" for r in res)
                       + f" ({res[0][0]:.3f})   {at:.2f}")
    return out


def _scores_of(name: str, times: list[float], values: list[float]) -> list[float]:
    """The scores of one series streamed through a fresh detector ``name`` (:func:`_make`)."""
    step = _make(name).step
    return [step(t, v).score for t, v in zip(times, values, strict=True)]


def false_alarms(names: tuple[str, ...], days: int = 28) -> list[str]:
    """Alerts per series per week on normal traffic, and detection delay on labelled incidents,
    at the default threshold."""
    from benchmarks.sample_traffic import alerts_per_week, detection_delays, sample_month
    from pipeline.anomaly import DEFAULT_THRESHOLD

    normal, _ = sample_month(days=days)
    incidents, labels = sample_month(days=days, anomalies=True)
    out = [f"  {days} days of the 15 sample series (pipeline/synthetic/metrics.py): {len(normal)} models "
           f"(5-minute Average of each, Sum of each Count series), threshold {DEFAULT_THRESHOLD}; "
           "an episode = alerts less than 1 h apart"]
    for name in names:
        alerts = episodes = 0
        for _, ts, vs in normal:
            det, last = _make(name), -math.inf
            for t, v in zip(ts, vs, strict=True):
                if det.step(t, v).score >= DEFAULT_THRESHOLD:
                    alerts += 1
                    episodes += t - last > 3600
                    last = t
        per = len(normal) * days / 7
        out.append(f"  {name:30s} normal traffic: {alerts / per:.2f} alerts, {episodes / per:.2f} "
                   "episodes per model per week")
        if name == names[0]:  # what `watchlake run` scores: the 1-minute Averages (metrics_1m)
            rate = alerts_per_week(partial(_scores_of, name), sample_month(days=days, step=1)[0], days,
                                   DEFAULT_THRESHOLD)
            out.append(f"  {name:30s} normal traffic at 1 minute: {rate:.2f} alerts per model per week")
            minute, minute_labels = sample_month(days=days, anomalies=True, step=1)
            out.append(f"  {name:30s} detection delay at 1 minute: "
                       + detection_delays(lambda name=name: _make(name), minute, minute_labels, DEFAULT_THRESHOLD, 1))
        out.append(f"  {name:30s} detection delay: "
                   + detection_delays(lambda name=name: _make(name), incidents, labels, DEFAULT_THRESHOLD))
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
    """The Flink job on the same points, one bounded run (the full comparison: bench_flink_anomaly)."""
    from benchmarks.bench_flink_anomaly import as_series, flink_run

    n = sum(len(v) for _, v in series.values())
    with tempfile.TemporaryDirectory() as tmp:
        wall, _, _, got = flink_run(Path(tmp), as_series(series), 6 * 3600)
    assert sum(len(v) for v in got.values()) == n
    py = bench_detector(series, "context")
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
    bench_detector(dict(list(series.items())[:2]), "context")  # warm-up: imports, first allocations
    cx = bench_detector(series, "context")
    cr = bench_detector(series, "context", {"runs": False})  # the default before the run judge
    cc = bench_detector(series, "context", {"runs": False, "art_clock": False})  # before the clock (1-minute data)
    cp = bench_detector(series, *_parse(BAGLESS))  # the default before the bag, the same label
    mv = bench_detector(series, "multiview")
    zs = bench_detector(series, "zscore")
    ar = bench_detector(series, "art")
    pl_ = bench_polars(path)
    print("\n== detector throughput (one point at a time, this process)")
    for name, r in (("context (default)", cx), ("context runs=0 (before the run judge)", cr),
                    ("context runs=0 art_clock=0 (before the clock)", cc),
                    (f"{BAGLESS} (no bag)", cp), ("multiview", mv), ("zscore (python)", zs),
                    ("art (adaptive-resonance option)", ar), ("polars rolling z-score (vectorised, bare tool)", pl_)):
        print(f"  {name:52s} {r['cpu_pps']:>12,.0f} points/s per core (CPU)  "
              f"{r['wall_pps']:>12,.0f} points/s wall")
    print(f"  ratio context / polars (CPU)                     {cx['cpu_pps'] / pl_['cpu_pps']:.3f}")
    print(f"  target ≥ 100,000 points/s per core: {'MET' if cx['cpu_pps'] >= 1e5 else 'NOT MET'}")
    print("\n== state per series (pickled detector)")
    from pipeline.anomaly.art import MAX_CATEGORIES

    for name, r in (("context", cx), ("multiview", mv)):
        a, b = state_growth(name)
        grows = MAX_CATEGORIES * 33 * 8 if name == "context" else 0  # its ART judge's categories
        print(f"  {name:10s} after 1,000 points: {a:,} B; after 50,000 points: {b:,} B; after "
              f"{n_points:,}: {r['state_bytes']:,} B (bounded: {'yes' if b <= a * 1.05 + grows else 'NO'})")

    a, b = state_growth("art")  # categories accumulate up to the cap, then are replaced
    print(f"  art        after 1,000 points: {a:,} B; after 50,000 points: {b:,} B; after {n_points:,}: "
          f"{ar['state_bytes']:,} B (category weights at most {MAX_CATEGORIES * 32 * 8:,} B)")
    print("\n== NAB: the 41 development files (tests/data/nab-corpus), NAB's scorer and threshold optimisation")
    # each adopted step, nested against the one before
    steps = ("context", RUNLESS, BIN0LESS, BAGLESS, NEAR3, NEARLESS, GAPLESS)
    print("\n".join(nab_41(("context", "multiview") if args.small else (*steps, PREVIOUS, SECOND, FIRST, "multiview",
                            "zscore"), () if args.small else (*zip(steps, steps[1:]), CONTEXT_VARIANTS))))
    print("  published on these 41 (nab-corpus/README.md): ARTime 76.73/67.67/82.16, CAD OSE "
          "69.34/66.74/72.37, HTM 68.94/62.19/73.48, RCF 49.83/36.72/58.02")
    if not args.small:
        print("\n== NAB scoring of the labelled synthetic corpora (benchmarks/anomaly_synth.py)")
        print("\n".join(synthetic_sets(("context", RUNLESS, BIN0LESS, BAGLESS, PREVIOUS, "multiview"))))
    print("\n== false alarms and detection delay on generated traffic")
    print("\n".join(false_alarms(("context", RUNLESS, BIN0LESS, PREVIOUS, "multiview"), 14 if args.small else 28)))
    if not args.small:
        from benchmarks import quiet_shapes

        print("\n".join(quiet_shapes.report({name: _scorer(name) for name in ("context", RUNLESS, BIN0LESS, BAGLESS)})))
        print("\n".join(quiet_shapes.report({"context": _scorer("context")}, step=60)))  # what `watchlake run` scores
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
