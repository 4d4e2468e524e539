"""Benchmark: all 57 SigmaHQ CloudTrail rules retroactively over N events vs one bare DuckDB scan.

Data (generated under benchmarks/.data/, reused when present):

* ``--small``: one day of the project's synthetic CloudTrail (``watchlake generate cloudtrail``,
  seed 1, ~200k events with the six labelled attack scenarios) loaded with ``watchlake ingest``;
* otherwise (10M by default, or ``--events N``): the 310 real Stratus Red Team events plus benign
  API traffic (S3/EC2/KMS/STS/… calls by 500 principals, 3 % AccessDenied), tiled to N rows with
  fresh eventIDs over 7 days of hourly partitions (about 1 % attack events) — generating 10M
  events through the generator and loader would take most of an hour on this machine.

Measures, in one run on the same Parquet:
* bare DuckDB: one scan reading every column the rules read, plus eventID, eventTime and the
  identity columns a finding carries (:func:`bare_scan_sql`; until December 2026 it read 6 of
  those 17 columns, which made the ratio look worse than it is);
* watchlake DuckDB engine: what ``watchlake detect`` does before writing — ``lake_findings``
  (one scan, all rules, matches grouped into findings in bulk) and the ``findings`` rows;
* watchlake Python engine on a 50k-row sample, as events/s;
* the live follow path: the same 50k rows committed as files of 2,000 events and followed one file
  per poll by the detect follower (DuckDB over each new file), beside reading each file's rows and
  matching them with the Python engine (the follower's path until December 2026); and the same
  files as one backlog, read by a fresh follower in one poll.

    .venv/bin/python -m benchmarks.bench_detect [--small] [--events N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.detections import fields, ir
from pipeline.detections.engine import BASE_PATHS, match_events
from pipeline.detections.grouping import lake_findings
from pipeline.detections.rules import load_rules
from pipeline.lake import Lake
from pipeline.query.duck import connect
from pipeline.sources.cloudtrail import events_to_table

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DATA = REPO / "benchmarks" / ".data"
BENIGN = [("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject"),
          ("ec2.amazonaws.com", "DescribeInstances"),
          ("sts.amazonaws.com", "AssumeRole"), ("kms.amazonaws.com", "Decrypt"), ("lambda.amazonaws.com", "Invoke"),
          ("dynamodb.amazonaws.com", "GetItem"), ("monitoring.amazonaws.com", "GetMetricData"),
          ("iam.amazonaws.com", "AttachRolePolicy"), ("s3.amazonaws.com", "ListBuckets")]


def _benign(n: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        src, name = rng.choice(BENIGN)
        user = f"user{rng.randrange(500)}"
        denied = rng.random() < 0.03
        ev = {"eventVersion": "1.09", "eventID": f"benign-{i}", "eventTime": "2026-11-08T00:00:00Z",
              "eventSource": src, "eventName": name, "awsRegion": "us-east-1",
              "sourceIPAddress": f"10.{rng.randrange(8)}.{rng.randrange(250)}.{rng.randrange(1, 250)}",
              "userAgent": "aws-sdk-go/1.44", "eventType": "AwsApiCall",
              "readOnly": name.startswith(("Get", "Describe", "List")),
              "managementEvent": src != "s3.amazonaws.com", "recipientAccountId": "111122223333",
              "userIdentity": {"type": "IAMUser", "principalId": f"AIDA{i % 500}",
                               "arn": f"arn:aws:iam::111122223333:user/{user}",
                               "accountId": "111122223333", "accessKeyId": f"AKIA{i % 500:012d}", "userName": user},
              "requestParameters": {"bucketName": f"bucket-{i % 40}", "key": f"k/{i}.json"} if src.startswith("s3")
              else {"instancesSet": {"items": [{"instanceId": f"i-{i:08x}"}]}},
              "responseElements": None}
        if denied:
            ev["errorCode"], ev["errorMessage"] = "AccessDenied", "User is not authorized"
        out.append(ev)
    return out


def build(lake: Lake, n: int) -> None:
    rng = random.Random(7)
    stratus = [e for f in sorted((SHARED / "stratus-cloudtrail" / "detonation-logs").glob("*.json"))
               for e in json.loads(f.read_text())]
    base, rej = events_to_table(stratus + _benign(30_690, rng), "bench")
    assert not rej
    hours = 7 * 24
    per_hour = -(-n // hours)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    reps = -(-per_hour // base.num_rows)
    written = 0
    for h in range(hours):
        if written >= n:
            break
        rows = min(per_hour, n - written)
        t = pa.concat_tables([base] * reps).slice(0, rows)
        ids = pa.array([f"{h:04d}-{i:08d}-bench" for i in range(rows)])
        secs = pa.array([h * 3600 + (i * 3600) // rows for i in range(rows)], pa.int64())
        times = pc.cast(pc.add(pc.multiply(secs, 1000), int(start.timestamp() * 1000)), pa.timestamp("ms", tz="UTC"))
        t = t.set_column(t.schema.get_field_index("eventID"), "eventID", ids)
        t = t.set_column(t.schema.get_field_index("eventTime"), "eventTime", times)
        when = start + timedelta(hours=h)
        lake.write_partition("cloudtrail", {"dt": f"{when:%Y-%m-%d}", "hour": f"{when:%H}"}, t)
        written += rows
        if h % 24 == 23 or written >= n:
            print(f"generating: {written:,}/{n:,}", flush=True)


def build_generated(lake: Lake, work: Path) -> None:
    from jobs.cli import main as cli

    src = work / "generated"
    if not src.exists():
        assert cli(["-q", "generate", "cloudtrail", "--out", str(src), "--duration", "1d", "--rate", "3.5"]) == 0
    assert cli(["-q", "--lake", lake.root, "ingest", "cloudtrail", str(src)]) == 0


def bare_scan_sql(rules: list) -> str:
    """One bare scan that reads every column the rules read, and the ids, times and identity
    columns a finding carries: the byte length of every value summed (every value touched, no
    other work; a count with a filter lets DuckDB skip columns or evaluate on dictionaries)."""
    paths = {p for r in rules for p in ir.paths(r.predicate) | set(r.key_paths())}
    cols = {fields.resolve(p).column for p in paths | set(BASE_PATHS) | {"eventID"}} - {()}
    sums = [f"sum(strlen(CAST({'.'.join(fields.quote_ident(c) for c in col)} AS VARCHAR)))" for col in sorted(cols)]
    return f"SELECT {', '.join(sums)}, max(\"eventTime\") FROM cloudtrail"


FOLLOW_FILE = 2_000
"""Events per committed file in the live follow measure: one loader step at the aim's 2,000 events/s."""


def follow_steps(rules: list, sample: pa.Table) -> tuple[int, float, float, int]:
    """``sample`` committed as files of :data:`FOLLOW_FILE` events into a scratch lake, then
    followed one file per poll — as the live detect stage reads a loader's commits — by the
    :class:`~jobs.detect_job.Follower` (DuckDB over the new file) and by the Python engine over the
    same file's rows (the follower's path until December 2026). Returns (files, follower seconds,
    Python seconds, events); the engines agree by test (tests/pipeline/detections/test_parity_property.py)."""
    import shutil

    from jobs.detect_job import Follower
    from pipeline.lake.follow import read_rows

    root = DATA / "detect_follow"
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(root / "lake")
    fol = Follower(lake, rules, from_start=True)
    t_fol = t_py = 0.0
    files, n_fol, n_py = 0, 0, 0
    for i in range(0, sample.num_rows, FOLLOW_FILE):
        part = sample.slice(i, FOLLOW_FILE)
        rel = lake.write_partition("cloudtrail", {"dt": "2026-11-01", "hour": f"{files % 24:02d}"}, part).path
        t0 = time.perf_counter()
        rep = fol.poll()
        t_fol += time.perf_counter() - t0
        t0 = time.perf_counter()
        n_py += len(match_events(rules, read_rows(lake, rel)))
        t_py += time.perf_counter() - t0
        n_fol += rep.events
        files += 1
    assert n_fol == sample.num_rows, (n_fol, sample.num_rows)
    return files, t_fol, t_py, n_fol


def follow_backlog(rules: list) -> tuple[float, float, int]:
    """The scratch lake of :func:`follow_steps` read in one poll by a fresh follower — a backlog
    after downtime — beside reading and matching the same files with the Python engine: (follower
    seconds, Python seconds, events)."""
    from jobs.detect_job import Follower
    from pipeline.lake.follow import read_rows

    lake = Lake(DATA / "detect_follow" / "lake")
    (Path(lake.root) / "_state" / "detect" / "follow.json").unlink(missing_ok=True)
    fol = Follower(lake, rules, from_start=True, resume=False)
    t0 = time.perf_counter()
    rep = fol.poll()
    t_fol = time.perf_counter() - t0
    t0 = time.perf_counter()
    for rel in lake.table_files("cloudtrail"):
        match_events(rules, read_rows(lake, rel))
    return t_fol, time.perf_counter() - t0, rep.events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="200k events instead of 10M")
    ap.add_argument("--events", type=int, help="number of events")
    args = ap.parse_args()
    if args.small and not args.events:
        lake = Lake(DATA / "detect_generated_1d" / "lake")
        if not lake.table_files("cloudtrail"):
            build_generated(lake, DATA / "detect_generated_1d")
    else:
        n = args.events or 10_000_000
        lake = Lake(DATA / f"detect_{n}")
        if not lake.table_files("cloudtrail"):
            build(lake, n)
    rules = load_rules(SHARED / "sigma-cloudtrail" / "rules").rules
    con = connect(lake, ["cloudtrail"])
    rows = con.execute("SELECT count(*) FROM cloudtrail").fetchall()[0][0]
    bare_sql = bare_scan_sql(rules)
    def scan() -> tuple[float, float, list]:
        t0, c0 = time.perf_counter(), time.process_time()
        out = con.execute(bare_sql).fetchall()
        return time.perf_counter() - t0, time.process_time() - c0, out

    # one-time costs of a process (pyarrow imports pandas on the first Python → Arrow conversion,
    # 0.4 s here) are paid by a first call over an empty range, and printed
    t0 = time.perf_counter()
    lake_findings(con, rules, datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC)).table("duckdb")
    t_first = time.perf_counter() - t0
    # the bare scan before and after the engine (median of 3): the machine is shared
    scans = [scan(), scan()]
    t0, c0 = time.perf_counter(), time.process_time()
    found = lake_findings(con, rules)
    t_match, c_match = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    findings = found.table("duckdb")
    t_find, c_find = time.perf_counter() - t0, time.process_time() - c0
    scans.append(scan())
    t_bare = statistics.median(x[0] for x in scans)
    c_bare = statistics.median(x[1] for x in scans)
    bare = scans[-1][2]
    sample_table = con.sql("SELECT * EXCLUDE (dt, hour) FROM cloudtrail LIMIT 50000").to_arrow_table()
    sample = sample_table.to_pylist()
    t0 = time.perf_counter()
    match_events(rules, sample)
    t_py = time.perf_counter() - t0
    live = follow_steps(rules, sample_table)
    backlog = follow_backlog(rules)
    total, c_total = t_match + t_find, c_match + c_find
    print(f"events                  {rows:,}  ({len(rules)} rules; load average {os.getloadavg()[0]:.1f})")
    print(f"bare DuckDB scan        {t_bare:8.2f} s  {rows / t_bare:14,.0f} ev/s  ({len(bare[0]) - 1} columns; "
          f"{c_bare:.2f} s CPU; median of 3)")
    print(f"watchlake DuckDB engine {total:8.2f} s  {rows / total:14,.0f} ev/s  "
          f"({found.match_count:,} matches grouped into {findings.num_rows:,} findings in {t_match:.2f} s, "
          f"rows in {t_find:.2f} s; "
          f"{c_total:.2f} s CPU)")
    print(f"(first call of the process, an empty range: {t_first:.2f} s — imports, not counted)")
    print(f"watchlake Python engine {t_py:8.2f} s  {len(sample) / t_py:14,.0f} ev/s  (50k-row sample, in memory)")
    print(f"live follow, {live[0]} files of {FOLLOW_FILE:,} events, one poll each: the follower (DuckDB) "
          f"{live[1]:.2f} s ({live[3] / live[1]:,.0f} ev/s), read + Python engine {live[2]:.2f} s "
          f"({live[3] / live[2]:,.0f} ev/s): {live[2] / live[1]:.1f}x")
    print(f"backlog, the same {live[0]} files in one poll: the follower {backlog[0]:.2f} s "
          f"({backlog[2] / backlog[0]:,.0f} ev/s), read + Python engine {backlog[1]:.2f} s: "
          f"{backlog[1] / backlog[0]:.1f}x")
    print(f"ratio watchlake/bare    {total / t_bare:8.1f} x wall, {c_total / c_bare:.1f} x CPU (target ≤ 3x)")

if __name__ == "__main__":
    main()
