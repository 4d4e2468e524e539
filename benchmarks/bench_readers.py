"""Reader throughput on gzip CloudTrail files vs DuckDB ``read_json`` over the same files.

    .venv/bin/python -m benchmarks.bench_readers [--small] [--events N] [--repeat R]

Input: CloudTrail S3-layout ``{"Records": [...]}`` gzip files (level 6, ~2,000 events per file)
made by ``watchlake generate cloudtrail`` (:mod:`pipeline.synthetic.cloudtrail`) under
``benchmarks/.data/readers/<N>/``; generated once, reused afterwards.

Measured in the same run, alternating, best and median of ``--repeat`` runs:

- ``watchlake`` — ``pipeline.sources.read("cloudtrail", folder)`` with the default 2 decompression
  threads, to Arrow tables in the exact lake schema (every field typed or kept as JSON);
- ``watchlake threads=1`` — the same, decompressing on the parsing thread;
- ``duckdb`` — ``SELECT unnest(Records, recursive := true) FROM read_json(files)`` fetched as
  Arrow (DuckDB's own schema inference, no validation, no JSON-text payloads).

Prints events/s, MB/s of gzip input and of JSON text, and the ratio watchlake / DuckDB.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data" / "readers"
RATE = 5.0  # weekly-mean events/s: on a Tuesday morning ~2,000 events per 5-minute us-east-1 file
BUSY = 1.6  # Tuesday 09:00–17:00 runs at about 1.6× the weekly mean (office hours)


def _dataset(events: int) -> tuple[Path, list[Path], int, int]:
    from pipeline.synthetic.cloudtrail import generate

    root = DATA / str(events)
    marker = root / ".done"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        res = generate(root, seed=42, start=datetime(2026, 11, 3, 9, tzinfo=UTC),
                       duration_s=int(events / RATE / BUSY), rate=RATE, scenarios=[])
        print(f"generated {res.events:,} events in {res.files:,} files ({time.perf_counter() - t:.1f} s)")
        marker.write_text(str(res.events))
    files = sorted(p for p in root.rglob("*.json.gz") if "CloudTrail-Digest" not in p.as_posix())
    gz = sum(p.stat().st_size for p in files)
    raw = sum(len(gzip.decompress(p.read_bytes())) for p in files)
    return root, files, gz, raw


def _watchlake(root: Path, threads: int) -> int:
    from pipeline.sources import read

    n = 0
    for b in read("cloudtrail", root, threads=threads):
        n += b.table.num_rows
        assert not b.rejections
    return n


def _duckdb(files: list[Path]) -> int:
    import duckdb

    con = duckdb.connect()
    paths = [str(p) for p in files]
    rel = con.sql("SELECT unnest(Records, recursive := true) FROM read_json($files, maximum_object_size=536870912)",
                  params={"files": paths})
    return int(rel.arrow().read_all().num_rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="100k events, 3 repeats (about a minute)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args()
    events = 100_000 if args.small else args.events
    repeat = args.repeat or (3 if args.small else 2)
    root, files, gz, raw = _dataset(events)
    cases: dict[str, Callable[[], int]] = {
        "watchlake": lambda: _watchlake(root, 2),
        "watchlake threads=1": lambda: _watchlake(root, 1),
        "duckdb read_json": lambda: _duckdb(files),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    counts: dict[str, int] = {}
    for _ in range(repeat):
        for name, fn in cases.items():
            t = time.perf_counter()
            counts[name] = fn()
            times[name].append(time.perf_counter() - t)
    n = counts["watchlake"]
    assert len(set(counts.values())) == 1, counts
    print(f"\n{n:,} events, {len(files):,} gzip files, {gz / 1e6:.1f} MB gzip, {raw / 1e6:.1f} MB JSON; "
          f"best and median of {repeat}")
    print(f"{'reader':<22}{'best ev/s':>12}{'median ev/s':>13}{'gzip MB/s':>11}{'JSON MB/s':>11}")
    best = {k: min(v) for k, v in times.items()}
    for name, ts in times.items():
        b, med = best[name], statistics.median(ts)
        print(f"{name:<22}{n / b:>12,.0f}{n / med:>13,.0f}{gz / b / 1e6:>11.1f}{raw / b / 1e6:>11.1f}")
    duck = best["duckdb read_json"]
    print(f"\nratio watchlake / duckdb: {duck / best['watchlake']:.2f} "
          f"(threads=1: {duck / best['watchlake threads=1']:.2f})")


if __name__ == "__main__":
    main()
