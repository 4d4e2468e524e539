"""Investigation speed on a lake of N CloudTrail events (target < 1 s each), vs bare DuckDB.

    .venv/bin/python -m benchmarks.bench_query [--small] [--events N]

Generates N seeded CloudTrail events (default 10M; ``--small`` 1M) over 9 days into
``benchmarks/.data/query_<N>/lake`` (``raw/cloudtrail/dt=…/hour=…``, one zstd file per hour with
row groups of 128k rows, as the loader and compaction leave it), then times typical
investigations through the pipeline (saved investigations, a Logs Insights query and console SQL
through the read-only runner: parse + safety analysis + catalogue views with time pruning +
locked connection) and the *same rendered SQL* run directly by DuckDB over
``read_parquet('…/**/*.parquet', hive_partitioning = true)`` on the same files. Times are warm
medians of 3 runs; the first (cold) run is shown too. Ratio = pipeline / direct.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / ".data"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 9
NAMES = [  # (eventSource, eventName, readOnly, weight)
    ("ec2", "DescribeInstances", True, 20), ("s3", "GetObject", True, 20), ("s3", "PutObject", False, 10),
    ("sts", "AssumeRole", True, 8), ("iam", "ListUsers", True, 3), ("ec2", "RunInstances", False, 2),
    ("ec2", "TerminateInstances", False, 1), ("ec2", "AuthorizeSecurityGroupIngress", False, 0.2),
    ("iam", "CreateAccessKey", False, 0.1), ("iam", "CreateUser", False, 0.1), ("iam", "PutRolePolicy", False, 0.2),
    ("cloudtrail", "StopLogging", False, 0.01), ("lambda", "Invoke", False, 10), ("dynamodb", "GetItem", True, 10),
    ("signin", "ConsoleLogin", False, 0.5), ("kms", "Decrypt", True, 10), ("logs", "PutLogEvents", False, 5),
]


def generate(n: int) -> Path:
    """The lake for ``n`` events (reused when already generated)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.lake import layout
    from pipeline.schemas import CLOUDTRAIL

    root = DATA / f"query_{n}" / "lake"
    marker = root.parent / "complete"
    if marker.exists():
        return root
    rng = np.random.default_rng(20261101)
    hours = DAYS * 24
    per_hour = np.full(hours, n // hours)
    per_hour[: n % hours] += 1
    weights = np.array([w for *_, w in NAMES])
    users = [f"user{i:03d}" for i in range(200)]
    ips = [f"198.51.{i // 250}.{i % 250}" for i in range(500)] + ["185.220.101.47"]
    regions = np.array(["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"])
    ui_type = CLOUDTRAIL.field("userIdentity").type
    t_start = time.perf_counter()
    offset = 0
    for h in range(hours):
        m = int(per_hour[h])
        hour_start = T0 + timedelta(hours=h)
        ms = np.sort(rng.integers(0, 3_600_000, m)) + int(hour_start.timestamp() * 1000)
        kind = rng.choice(len(NAMES), m, p=weights / weights.sum())
        user = rng.zipf(1.6, m) % len(users)
        err = rng.random(m)
        code = np.where(err < 0.02, "AccessDenied", np.where(err < 0.03, "Client.RequestLimitExceeded", None))
        user_arr = np.array(users, dtype=object)[user]
        arn = np.char.add("arn:aws:iam::111122223333:user/", user_arr.astype(str))
        akid = np.char.add("AKIA", np.char.zfill(user.astype(str), 16))
        uid = pa.StructArray.from_arrays(
            [pa.array(np.full(m, "IAMUser")), pa.array(np.char.add("AIDA", akid)), pa.array(arn),
             pa.array(np.full(m, "111122223333")), pa.array(akid), pa.array(user_arr.astype(str))]
            + [pa.nulls(m, f.type) for f in list(ui_type)[6:]], fields=list(ui_type))
        inst = np.char.add("i-0", np.char.zfill((rng.integers(0, 5000, m)).astype(str), 16))
        src = np.array([f"{s}.amazonaws.com" for s, *_ in NAMES])[kind]
        name = np.array([e for _, e, *_ in NAMES])[kind]
        ro = np.array([r for _, _, r, _ in NAMES])[kind]
        req = np.char.add(np.char.add('{"instanceId":"', inst), '"}')
        ids = np.char.add("e-", np.char.zfill(np.arange(offset, offset + m).astype(str), 12))
        offset += m
        cols = {
            "eventVersion": pa.array(np.full(m, "1.11")), "userIdentity": uid,
            "eventTime": pa.array(ms, pa.timestamp("ms", tz="UTC")), "eventSource": pa.array(src),
            "eventName": pa.array(name), "awsRegion": pa.array(regions[rng.choice(4, m, p=[.9, .08, .019, .001])]),
            "sourceIPAddress": pa.array(np.array(ips, dtype=object)[rng.integers(0, len(ips), m)].astype(str)),
            "userAgent": pa.array(np.full(m, "aws-cli/2.15.0")), "errorCode": pa.array(code, pa.string()),
            "requestParameters": pa.array(req), "eventID": pa.array(ids),
            "eventType": pa.array(np.full(m, "AwsApiCall")),
            "readOnly": pa.array(ro), "managementEvent": pa.array(np.full(m, True)),
            "recipientAccountId": pa.array(np.full(m, "111122223333")),
            "eventCategory": pa.array(np.full(m, "Management")),
        }
        table = pa.table({f.name: cols.get(f.name, pa.nulls(m, f.type)) for f in CLOUDTRAIL}, schema=CLOUDTRAIL)
        folder = root / layout.partition_path("cloudtrail", layout.time_partitions("cloudtrail", hour_start))
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "part-0.parquet", compression="zstd", row_group_size=128 * 1024)
    marker.write_text(str(n))
    print(f"generated {n:,} events in {hours} hourly files in {time.perf_counter() - t_start:.1f} s → {root}")
    return root


def _time(fn, runs: int = 3) -> tuple[float, float]:
    cold = _once(fn)
    return cold, statistics.median(_once(fn) for _ in range(runs))


def _once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="1M events instead of 10M")
    ap.add_argument("--events", type=int, help="number of events")
    args = ap.parse_args()
    n = args.events or (1_000_000 if args.small else 10_000_000)
    root = generate(n)

    import duckdb

    from pipeline.lake import Lake
    from pipeline.query import investigations as inv
    from pipeline.query.duck import run_query
    from pipeline.query.logs_insights import run_insights, to_sql

    lake = Lake(root)
    end = T0 + timedelta(days=DAYS)
    last_day = end - timedelta(days=1)
    window = {"start": T0.isoformat(), "end": end.isoformat()}
    day = {"start": last_day.isoformat(), "end": end.isoformat()}
    cases = [
        ("principal_activity (9 days, one user)", "inv", "principal_activity", {**window, "principal": "user150"}),
        ("denied_and_throttled (9 days)", "inv", "denied_and_throttled", window),
        ("top_write_callers (9 days)", "inv", "top_write_callers", window),
        ("security_changes (9 days)", "inv", "security_changes", window),
        ("console_login_without_mfa (9 days)", "inv", "console_login_without_mfa", window),
        ("resource_changes (last day, JSON scan)", "inv", "resource_changes",
         {**day, "resource": "i-00000000000004242"}),
        ("session_activity (last day)", "inv", "session_activity", {**day, "session": "AKIA0000000000000150"}),
        ("Logs Insights: AccessDenied by bin(1h), arn (last day)", "li",
         'filter errorCode = "AccessDenied" | stats count(*) as n by bin(1h), userIdentity.arn '
         "| sort n desc | limit 20", None),
        ("SQL: count by eventName, no bound (default 24 h)", "sql",
         "SELECT eventName, count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 2 DESC", None),
    ]
    direct = duckdb.connect()
    direct.execute(f"CREATE VIEW cloudtrail AS SELECT * FROM read_parquet('{root}/raw/cloudtrail/**/*.parquet', "
                   "hive_partitioning = true, hive_types_autocast = false)")
    print(f"\n{n:,} CloudTrail events, {len(lake.table_files('cloudtrail'))} files; warm median of 3 (cold)\n")
    print(f"{'query':<56} {'pipeline':>16} {'duckdb direct':>16} {'ratio':>6}")
    worst = 0.0
    for title, kind, what, params in cases:
        if kind == "inv":
            sql, _ = inv.render(inv.get(what), params, now=end)

            def pipe(what=what, params=params):
                return inv.run_investigation(lake, what, params)
        elif kind == "li":
            sql = to_sql(what, start=last_day, end=end)

            def pipe(what=what):
                return run_insights(lake, what, start=last_day, end=end)
        else:
            sql = what.replace("FROM cloudtrail", f"FROM cloudtrail WHERE eventTime >= TIMESTAMPTZ "
                               f"'{(end - timedelta(hours=24)).isoformat()}' AND eventTime < TIMESTAMPTZ "
                               f"'{end.isoformat()}'")

            def pipe(what=what):
                return run_query(lake, what, default_bound_hours=24)
        p_cold, p_warm = _time(pipe)
        d_cold, d_warm = _time(lambda sql=sql: direct.execute(sql).fetchall())
        worst = max(worst, p_warm)
        print(f"{title:<56} {p_warm * 1000:>7.0f} ms ({p_cold * 1000:>4.0f}) {d_warm * 1000:>7.0f} ms "
              f"({d_cold * 1000:>4.0f}) {p_warm / d_warm:>6.2f}")
    print(f"\nslowest investigation: {worst * 1000:.0f} ms (target < 1000 ms)")

    # partition pruning: the same last-day aggregate with and without partition pruning
    bound = (f"eventTime >= TIMESTAMPTZ '{last_day.isoformat()}' AND eventTime < TIMESTAMPTZ '{end.isoformat()}'")
    q = f"SELECT userIdentity.userName, count(*) FROM cloudtrail WHERE {bound} AND errorCode = 'AccessDenied' " \
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    dt_q = q.replace("WHERE ", f"WHERE dt >= '{last_day.date()}' AND ")
    rows = [("pipeline (views over the window's partitions)", lambda: run_query(lake, q)),
            ("duckdb direct, eventTime predicate only", lambda: direct.execute(q).fetchall()),
            ("duckdb direct, plus a dt partition predicate", lambda: direct.execute(dt_q).fetchall())]
    print("\npartition pruning, top AccessDenied users in the last day:")
    for title, fn in rows:
        cold, warm = _time(fn)
        print(f"  {title:<48} {warm * 1000:>7.0f} ms ({cold * 1000:>4.0f})")


if __name__ == "__main__":
    main()
