"""Hostile and oversized input: peak memory against the configured bound, and a larger fuzz run.

    .venv/bin/python -m benchmarks.bench_hardening [--small] [--files N] [--big-mib N] [--seeds N]

Memory (each scenario in its own process, ``watchlake ingest`` with one worker, peak RSS of that
process from ``getrusage``):

- ``tiny files``: N one-event CloudTrail files (``{"Records": [event]}``, gzip) in one hour;
  bare DuckDB ``read_json`` over the same files is run alongside for comparison;
- ``big object``: one gzip ``Records`` file of ``--big-mib`` MiB uncompressed (accepted, within
  ``loader.max_object_mib``) and one of 4× that size (refused by the limit);
- ``gzip bomb``: 2 GiB of zeros gzip'd (2 MiB stored) among 300 good files.

The bound printed is the README's (section "Limits"):
``400 MiB + 2 × max_buffered_mib + (max_open_files + 9) × max_object_mib``, with the settings each
scenario runs under; a scenario holds when its peak RSS is under it.

Fuzz: ``--seeds`` × 10 files per reader kind from :mod:`tests.pipeline.sources.fuzzgen`, each
checked against the oracle of the damage done; prints "tried N, held N".
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_MIB = 400
PARSE_FACTOR = 8  # parsed form of one object (Python dicts on the general path) per byte of JSON


def bound_mib(settings: dict[str, int]) -> int:
    return (BASE_MIB + 2 * settings["max_buffered_mib"]
            + (settings["max_open_files"] + 1 + PARSE_FACTOR) * settings["max_object_mib"])


def _event(i: int, minute: int = 0) -> dict:
    return {"eventVersion": "1.09", "eventTime": f"2026-11-01T08:{minute % 60:02d}:{i % 60:02d}Z",
            "eventID": f"id-{i}", "eventName": "GetObject", "eventSource": "s3.amazonaws.com",
            "awsRegion": "us-east-1", "userIdentity": {"type": "IAMUser", "userName": f"u{i % 7}"},
            "requestParameters": {"bucketName": "b", "key": f"data/{i}.csv"}}


def make_tiny(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = json.dumps({"Records": [_event(i, i // 60)]}).encode()
        (folder / f"f{i:07d}.json.gz").write_bytes(gzip.compress(body, compresslevel=1))


def make_big(path: Path, mib: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    one = json.dumps(_event(0)).encode()
    n = mib * (1 << 20) // (len(one) + 2)
    with gzip.open(path, "wb", compresslevel=1) as raw, io.BufferedWriter(raw, buffer_size=1 << 22) as f:
        f.write(b'{"Records": [')
        for i in range(n):
            f.write((b", " if i else b"") + one.replace(b'"id-0"', b'"id-%d"' % i))
        f.write(b"]}")


def make_bomb(folder: Path, good: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "bomb.json.gz", "wb", compresslevel=9) as f:
        zeros = b"\0" * (1 << 24)
        for _ in range(128):  # 2 GiB
            f.write(zeros)
    for i in range(good):
        body = json.dumps({"Records": [_event(i * 10 + k) for k in range(10)]}).encode()
        (folder / f"good{i:04d}.json.gz").write_bytes(gzip.compress(body, compresslevel=1))


def child_ingest(src: str, lake: str, settings: dict[str, int]) -> None:
    """Runs in the measured process: ingest ``src``, print counts and peak RSS as JSON."""
    from pipeline.config import load_settings
    from pipeline.lake import Lake
    from pipeline.loader.ingest import ingest

    env = {f"WATCHLAKE__LOADER__{k.upper()}": str(v) for k, v in settings.items()}
    s = load_settings(env=env)
    t0 = time.perf_counter()
    r = ingest(Lake(lake), s.loader, "cloudtrail", [src], workers=1)
    print(json.dumps({"records_in": r.records_in, "loaded": r.loaded, "rejected": r.rejected,
                      "seconds": time.perf_counter() - t0,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def child_duckdb(src: str) -> None:
    import duckdb

    t0 = time.perf_counter()
    n = duckdb.connect().execute(
        f"SELECT count(*) FROM (SELECT unnest(Records) FROM read_json('{src}/*.json.gz'))").fetchone()[0]
    print(json.dumps({"loaded": n, "seconds": time.perf_counter() - t0,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_hardening", *args], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parent.parent, check=False)
    if out.returncode:
        raise SystemExit(f"child failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def scenario(name: str, src: Path, work: Path, settings: dict[str, int]) -> bool:
    lake = work / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    r = _run(["--child", str(src), str(lake), json.dumps(settings)])
    b = bound_mib(settings)
    ok = r["peak_mib"] <= b
    print(f"{name:<34} in {r['records_in']:>9,}  loaded {r['loaded']:>9,}  rejected {r['rejected']:>4}  "
          f"{r['seconds']:6.1f} s  peak RSS {r['peak_mib']:7.0f} MiB  bound {b:6,} MiB  "
          f"({r['peak_mib'] / b:.2f} of it) {'held' if ok else 'EXCEEDED'}", flush=True)
    return ok


def fuzz(seeds: int) -> tuple[int, int, int]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pipeline.sources import read
    from tests.pipeline.sources.fuzzgen import cases, check

    tried = held = records = 0
    with tempfile.TemporaryDirectory() as d:
        for seed in range(100, 100 + seeds):
            for case in cases(seed, files=10):
                p = Path(d) / case.name
                p.write_bytes(case.data)
                kind = "metrics" if case.kind == "metrics_csv" else case.kind
                try:
                    problems = check(case, list(read(kind, p, **case.options)))
                except Exception as exc:  # noqa: BLE001 - a reader that raises is a failed case
                    problems = [f"raised {type(exc).__name__}: {exc}"]
                tried += 1
                records += case.records
                held += not problems
                if problems:
                    print(f"  {case.name} ({case.notes.strip()}): {problems[0]}")
                p.unlink()
    return tried, held, records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="about a minute")
    ap.add_argument("--files", type=int, default=None, help="tiny files (default 100,000; --small 10,000)")
    ap.add_argument("--big-mib", type=int, default=None, help="accepted big object, MiB (default 256; --small 64)")
    ap.add_argument("--seeds", type=int, default=None, help="fuzz seeds × 10 files per kind (default 40; --small 8)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--child-duckdb", help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep the generated inputs under benchmarks/.data/")
    args = ap.parse_args()
    if args.child:
        child_ingest(args.child[0], args.child[1], json.loads(args.child[2]))
        return 0
    if args.child_duckdb:
        child_duckdb(args.child_duckdb)
        return 0
    files = args.files or (10_000 if args.small else 100_000)
    big = args.big_mib or (64 if args.small else 256)
    seeds = args.seeds or (8 if args.small else 40)
    root = Path(__file__).resolve().parent / ".data" / "hardening"
    ok = True
    t0 = time.perf_counter()
    tiny = root / f"tiny-{files}"
    if not tiny.exists():
        make_tiny(tiny, files)
    print(f"inputs ready in {time.perf_counter() - t0:.0f} s; settings as named per line "
          f"(bound = {BASE_MIB} + 2 × max_buffered_mib + (max_open_files + 9) × max_object_mib)", flush=True)
    defaults = {"max_buffered_mib": 512, "max_object_mib": 256, "max_open_files": 4}
    for buffered in (512, 64):
        ok &= scenario(f"{files:,} tiny files, buffer {buffered} MiB", tiny, root,
                       {**defaults, "max_buffered_mib": buffered})
    bare = _run(["--child-duckdb", str(tiny)])
    print(f"{'  bare DuckDB read_json, same files':<34} loaded {bare['loaded']:>9,}  {bare['seconds']:6.1f} s  "
          f"peak RSS {bare['peak_mib']:7.0f} MiB", flush=True)
    obj_limit = 2 * big  # the accepted object fits, the one four times its size does not
    for mib, label in ((big, "accepted"), (4 * big, "over loader.max_object_mib")):
        path = root / f"big-{mib}" / "big.json.gz"
        if not path.exists():
            make_big(path, mib)
        ok &= scenario(f"one {mib} MiB object ({label})", path.parent, root,
                       {**defaults, "max_object_mib": obj_limit, "max_buffered_mib": 256})
        shutil.rmtree(path.parent) if not args.keep and mib > big else None
    bomb = root / "bomb"
    if not bomb.exists():
        make_bomb(bomb, 300)
    ok &= scenario("2 GiB gzip bomb + 300 good files", bomb, root, defaults)
    tried, held, records = fuzz(seeds)
    print(f"fuzz: tried {tried:,} files ({records:,} records), held {held:,}", flush=True)
    if not args.keep:
        shutil.rmtree(root / "lake", ignore_errors=True)
    return 0 if ok and held == tried else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
