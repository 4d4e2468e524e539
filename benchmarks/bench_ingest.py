"""Bulk ingest of gzip CloudTrail files: watchlake ingest vs bare DuckDB, same files, same run.

    .venv/bin/python -m benchmarks.bench_ingest [--small] [--events N]

Input: CloudTrail S3-layout ``{"Records": [...]}`` gzip files of 2,000 events (about 1.4 KB per
event, nested ``userIdentity`` with the empty ``webIdFederationData: {}``, per-API
``requestParameters``), generated once under ``benchmarks/.data/`` by a small writer here.

- watchlake: ``pipeline.loader.ingest`` (the reader + validation + de-duplication by eventID +
  dt/hour partitions + Parquet zstd + ledger) into a fresh lake;
- bare DuckDB: ``COPY (SELECT unnest(Records, recursive := true) FROM read_json(files))
  TO … (FORMAT parquet, COMPRESSION zstd)`` — no validation, dedup or partitioning.

Each side runs in its own process tree, measured alone: CPU seconds of the tree and the peak of
its summed RSS (watchlake's worker processes together). Prints events/s, the ratio
watchlake/DuckDB (target ≥ 1.0) and peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data" / "ingest"
PER_FILE = 2000

_APIS = [
    ("s3.amazonaws.com", "GetObject", True, lambda r: {"bucketName": f"bucket-{r.randrange(40)}",
                                                       "key": f"data/{r.randrange(10**6)}.csv",
                                                       "Host": "s3.amazonaws.com"}),
    ("s3.amazonaws.com", "PutObject", False, lambda r: {"bucketName": f"bucket-{r.randrange(40)}",
                                                        "key": f"up/{r.randrange(10**6)}.json"}),
    ("ec2.amazonaws.com", "DescribeInstances", True, lambda r: {"instancesSet": {"items": [
        {"instanceId": f"i-{r.randrange(16**8):08x}"}]}, "filterSet": {}}),
    ("sts.amazonaws.com", "AssumeRole", True, lambda r: {
        "roleArn": f"arn:aws:iam::111122223333:role/r{r.randrange(50)}",
        "roleSessionName": f"s{r.randrange(999)}", "durationSeconds": 3600}),
    ("kms.amazonaws.com", "Decrypt", True, lambda r: {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                                                      "encryptionContext": {"aws:lambda:FunctionArn": "arn:x"}}),
    ("lambda.amazonaws.com", "Invoke", False, lambda r: {"functionName": f"fn-{r.randrange(30)}"}),
    ("iam.amazonaws.com", "AttachRolePolicy", False, lambda r: {"roleName": f"r{r.randrange(50)}",
                                                                "policyArn": "arn:aws:iam::aws:policy/ReadOnly"}),
    ("signin.amazonaws.com", "ConsoleLogin", False, lambda r: None),
    ("dynamodb.amazonaws.com", "GetItem", True, lambda r: {"tableName": f"t{r.randrange(20)}",
                                                           "key": {"pk": {"S": str(r.randrange(10**9))}}}),
    ("monitoring.amazonaws.com", "GetMetricData", True, lambda r: {"startTime": "2026-11-01T00:00:00Z",
                                                                   "endTime": "2026-11-01T01:00:00Z"}),
]


def _event(r: random.Random, t: datetime, i: int) -> dict:
    src, name, ro, params = r.choice(_APIS)
    user = f"user-{r.randrange(500)}"
    denied = r.random() < 0.03
    ev = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole", "principalId": f"AROA{r.randrange(16**12):012X}:{user}",
            "arn": f"arn:aws:sts::111122223333:assumed-role/app/{user}", "accountId": "111122223333",
            "accessKeyId": f"ASIA{r.randrange(16**12):012X}",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                                  "arn": "arn:aws:iam::111122223333:role/app",
                                  "accountId": "111122223333", "userName": "app"},
                "webIdFederationData": {},
                "attributes": {"creationDate": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "false"},
            },
        },
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": src, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": f"203.0.{r.randrange(8)}.{r.randrange(250)}",
        "userAgent": "aws-sdk-java/2.20.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/17",
        "requestParameters": params(r), "responseElements": None if ro else {"ok": True},
        "requestID": f"{r.randrange(16**32):032x}", "eventID": f"{i:08x}-{r.randrange(16**24):024x}",
        "readOnly": ro, "eventType": "AwsApiCall", "managementEvent": src != "s3.amazonaws.com",
        "recipientAccountId": "111122223333", "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": src},
    }
    if denied:
        ev["errorCode"], ev["errorMessage"] = "AccessDenied", f"User {user} is not authorized"
    return ev


def generate(n: int, folder: Path, seed: int = 7) -> None:
    """``n`` events over 7 days in S3-layout gzip files of 2,000 events (level 6, like AWS)."""
    import orjson

    done = folder.parent / f"{folder.name}.done"
    if folder.exists() and done.exists() and done.read_text().strip() == str(n):
        return
    shutil.rmtree(folder, ignore_errors=True)
    r = random.Random(seed)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    span = 7 * 86400
    for f in range(0, n, PER_FILE):
        count = min(PER_FILE, n - f)
        t = t0 + timedelta(seconds=span * f / n)
        events = [_event(r, t + timedelta(seconds=span * k / n), f + k) for k in range(count)]
        day = folder / "AWSLogs/111122223333/CloudTrail/us-east-1" / t.strftime("%Y/%m/%d")
        day.mkdir(parents=True, exist_ok=True)
        name = f"111122223333_CloudTrail_us-east-1_{t.strftime('%Y%m%dT%H%MZ')}_{f:08d}.json.gz"
        (day / name).write_bytes(gzip.compress(orjson.dumps({"Records": events}), compresslevel=6))
    done.write_text(str(n))


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.json.gz"))


def run_watchlake(folder: Path, out: Path, workers: int = 2, max_buffered_mib: int = 512) -> dict:
    from pipeline.config import load_settings
    from pipeline.lake import Lake
    from pipeline.loader.ingest import ingest

    settings = load_settings(env={}, overrides={"lake.root": str(out),
                                                "loader.max_buffered_mib": str(max_buffered_mib)})
    t0 = time.perf_counter()
    s = ingest(Lake(out), settings.loader, "cloudtrail", [str(folder)], workers=workers)
    secs = time.perf_counter() - t0
    return {"events": s.loaded, "seconds": secs, "files": s.files, "bytes": s.bytes,
            "duplicates": s.duplicates, "rejected": s.rejected}


def run_duckdb(folder: Path, out: Path) -> dict:
    import duckdb

    files = _files(folder)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute(
        "COPY (SELECT unnest(Records, recursive := true) FROM read_json(?, maximum_object_size = 268435456)) "
        f"TO '{out / 'all.parquet'}' (FORMAT parquet, COMPRESSION zstd)", [files])
    secs = time.perf_counter() - t0
    n = con.execute(f"SELECT count(*) FROM '{out / 'all.parquet'}'").fetchone()[0]
    return {"events": n, "seconds": secs, "files": 1, "bytes": (out / "all.parquet").stat().st_size}


def _child(engine: str, folder: Path, out: Path) -> dict:
    """Run one engine in a fresh process; CPU seconds of its whole process tree, and the peak of
    the tree's summed RSS (sampled every 20 ms, so several worker processes count together)."""
    import psutil

    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_ingest", "--child", engine, str(folder), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{engine} failed: {stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res: dict = json.loads(stdout.strip().splitlines()[-1])
    res["cpu_seconds"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    res["peak_rss_mib"] = max(res["peak_rss_mib"], peak / 2**20)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="100k events instead of 1M")
    ap.add_argument("--events", type=int, help="event count (overrides --small)")
    ap.add_argument("--workers", type=int, default=2,
                    help="watchlake worker processes, each reading and loading a share of the files "
                         "(default 2, like DuckDB's two threads here)")
    ap.add_argument("--max-buffered-mib", type=int, default=512,
                    help="loader.max_buffered_mib for watchlake (default 512): bounds its memory")
    ap.add_argument("--repeat", type=int, default=2, help="runs per engine, alternating; best is reported")
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "IN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        engine, folder, out = args.child
        if engine.startswith("watchlake"):
            _, workers, cap = engine.split(":")
            res = run_watchlake(Path(folder), Path(out), workers=int(workers), max_buffered_mib=int(cap))
        else:
            res = run_duckdb(Path(folder), Path(out))
        res["peak_rss_mib"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        print(json.dumps(res))
        return
    n = args.events or (100_000 if args.small else 1_000_000)
    folder = DATA / f"cloudtrail-{n}"
    t0 = time.perf_counter()
    generate(n, folder)
    gz = sum(os.path.getsize(f) for f in _files(folder))
    print(f"input: {n:,} events in {len(_files(folder))} gzip files, {gz / 2**20:.1f} MiB "
          f"(generated/cached in {time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPUs")
    results: dict[str, dict] = {}
    for _ in range(args.repeat):  # alternate engines so both see the same machine load
        for engine in ("duckdb", "watchlake"):
            spec = engine if engine == "duckdb" else f"watchlake:{args.workers}:{args.max_buffered_mib}"
            r = _child(spec, folder, DATA / f"out-{engine}")
            if engine not in results or r["seconds"] < results[engine]["seconds"]:
                results[engine] = r
    for engine, r in results.items():
        rate = r["events"] / r["seconds"]
        print(f"{engine:10s} {r['events']:>9,} events  {r['seconds']:6.2f} s  {rate:>9,.0f} ev/s  "
              f"{r['files']:>4} files  {r['bytes'] / 2**20:7.1f} MiB  peak RSS {r['peak_rss_mib']:7.0f} MiB  "
              f"CPU {r['cpu_seconds']:6.1f} s")
    w, d = results["watchlake"], results["duckdb"]
    ratio = (w["events"] / w["seconds"]) / (d["events"] / d["seconds"])
    print(f"ratio watchlake/duckdb throughput: {ratio:.2f}x (target >= 1.0; watchlake also validates, "
          f"de-duplicates and partitions by dt/hour)")
    print(f"ratio duckdb/watchlake CPU seconds (independent of machine load): "
          f"{d['cpu_seconds'] / w['cpu_seconds']:.2f}x")
    shutil.rmtree(DATA / "out-duckdb", ignore_errors=True)
    shutil.rmtree(DATA / "out-watchlake", ignore_errors=True)


if __name__ == "__main__":
    main()
