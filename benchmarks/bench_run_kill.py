"""``watchlake run`` under random SIGKILLs: nothing lost, nothing doubled, no notification twice.

Puts a batch of CloudTrail events (with one attack per batch) and metric datapoints on a local
stream, starts ``watchlake run``, kills it with SIGKILL at a random moment, and repeats; then a
last run drains everything and stops with SIGTERM. Checks, against what was put:

* every CloudTrail event and every datapoint is in the lake exactly once;
* every attack has its finding, and no notification (MessageId) was delivered twice;
* no alarm transition is recorded twice;
* no 1-minute point is scored twice by the anomaly stage (``anomalies`` rows per series and minute;
  ``ANOMALY_SERIES`` series with 6 hours of history put first and a new point with each batch, so
  the first runs' warm-up steps and every later minute are scored under the kills; their alerts go
  to the same topic).

    python -m benchmarks.bench_run_kill [--kills 20] [--seed 7] [--small]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from benchmarks.bench_run import _anomaly_series, _quiet, history, start_run  # noqa: E402
from pipeline.alarms.store import AlarmStore  # noqa: E402
from pipeline.alarms.validate import parse_alarm  # noqa: E402
from pipeline.lake import Lake  # noqa: E402
from pipeline.notify import TopicStore  # noqa: E402
from pipeline.stream import Stream  # noqa: E402


def _event(eid: str, t: datetime, name: str, user: str) -> dict:
    return {"eventVersion": "1.08", "eventID": eid, "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "cloudtrail.amazonaws.com" if name == "StopLogging" else "s3.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "kill",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::123456789012:user/{user}",
                             "accountId": "123456789012", "userName": user},
            "eventType": "AwsApiCall", "readOnly": name != "StopLogging", "recipientAccountId": "123456789012",
            "managementEvent": True}


def _metric(t: datetime, v: float) -> dict:
    return {"metric_stream_name": "k", "account_id": "123456789012", "region": "us-east-1", "namespace": "App",
            "metric_name": "Errors", "dimensions": {"Service": "api"}, "timestamp": int(t.timestamp() * 1000),
            "value": {"count": 1, "sum": v, "min": v, "max": v}, "unit": "Count"}


def _start(work: Path, lake_root: Path) -> subprocess.Popen[str]:
    return start_run(work, lake_root, findings_topic="oncall", anomaly_topic="oncall", buffer_seconds="1",
                     alarm_seconds="2", rollup_seconds="2", detect_seconds="1", disable="insights,retention")


def _count(lake_root: Path, table: str, cols: str, where: str = "true") -> tuple[int, int]:
    glob = str(lake_root / "raw" / table / "**" / "*.parquet")
    try:
        row = duckdb.connect().execute(f"SELECT count(*), count(DISTINCT ({cols})) FROM read_parquet(?) "
                                       f"WHERE {where}", [glob]).fetchone()
    except duckdb.IOException:
        return 0, 0
    assert row is not None
    return int(row[0]), int(row[1])


ANOMALY_SERIES = 5


def _scored(lake_root: Path) -> tuple[int, int, bool]:
    """Rows of ``anomalies`` and distinct (series, minute) among them; and whether the anomaly
    stage's checkpoint has scored every closed minute of App/Errors (each minute older than the
    newest in ``metrics_1m``, which is still filling)."""
    con = duckdb.connect()
    try:
        a = con.execute("SELECT count(*), count(DISTINCT (series_id, timestamp)) FROM read_parquet(?)",
                        [str(lake_root / "anomalies" / "**" / "*.parquet")]).fetchone()
    except duckdb.IOException:
        a = (0, 0)
    m = con.execute("WITH t AS (SELECT namespace, epoch_ms(timestamp) / 1000.0 AS s FROM read_parquet(?)) "
                    "SELECT max(s) FILTER (WHERE namespace = 'App' AND s < (SELECT max(s) FROM t)) FROM t",
                    [str(lake_root / "rollups" / "metrics_1m" / "**" / "*.parquet")]).fetchone()
    assert a is not None and m is not None
    path = lake_root / "_state" / "anomalies" / "context-metrics1m-Average.json"
    state = json.loads(path.read_text())["series"] if path.exists() else {}
    last = max((v["last"] for k, v in state.items() if k.startswith("App|Errors|")), default=None)
    return int(a[0]), int(a[1]), m[0] is None or (last is not None and last >= m[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--events", type=int, default=500, help="CloudTrail events per batch (500)")
    ap.add_argument("--small", action="store_true", help="5 kills")
    args = ap.parse_args()
    if args.small:
        args.kills = 5
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench_kill_"))
    lake_root = work / "lake"
    lake = Lake(str(lake_root))
    topics = TopicStore(lake)
    topics.subscribe("oncall", "file", "notify/oncall.jsonl")
    topics.save()
    store = AlarmStore(lake)
    store.put([parse_alarm({"AlarmName": "api-errors", "Namespace": "App", "MetricName": "Errors",
                            "Dimensions": [{"Name": "Service", "Value": "api"}], "Statistic": "Maximum", "Period": 60,
                            "EvaluationPeriods": 1, "Threshold": 50, "ComparisonOperator": "GreaterThanThreshold",
                            "TreatMissingData": "notBreaching", "AlarmActions": ["oncall"], "OKActions": ["oncall"]})])
    store.save()
    stream = Stream.create(str(work / "streams"), "live", 2)
    history(stream, ANOMALY_SERIES)
    quiet = random.Random(args.seed + 1)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=args.kills * args.events + 3600)  # all past
    events = points = 0
    attacks: list[str] = []
    kill_after: list[float] = []
    t_start = time.monotonic()
    for k in range(args.kills):
        batch = [_event(f"ev-{k}-{i}", base + timedelta(seconds=k * args.events + i), "GetObject", "reader")
                 for i in range(args.events - 1)]
        attack = _event(f"attack-{k}", base + timedelta(seconds=k * args.events + args.events - 1), "StopLogging",
                        f"intruder{k}")
        attacks.append(attack["eventID"])
        now = datetime.now(UTC)
        # a millisecond of its own per batch: two batches whole seconds apart would otherwise put the
        # same datapoint twice, which the loader keeps once (as CloudWatch would)
        stamp = now.replace(microsecond=(k % 1000) * 1000)
        metric = [_metric(stamp - timedelta(seconds=5 + j), 100.0 if k % 2 else 1.0) for j in range(20)]
        recs = [(d["eventID"], json.dumps(d).encode()) for d in [*batch, attack]]
        recs += [(f"m{k}-{j}", json.dumps(m).encode()) for j, m in enumerate(metric)]
        recs += [(f"q{k}-{j}", _anomaly_series(j, now, _quiet(j, now, quiet))) for j in range(ANOMALY_SERIES)]
        for i in range(0, len(recs), 500):
            stream.put(recs[i:i + 500])
        events += len(batch) + 1
        points += len(metric)
        proc = _start(work, lake_root)
        wait = rng.uniform(0.5, 6.0)
        kill_after.append(wait)
        time.sleep(wait)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        rows = _count(lake_root, "cloudtrail", "eventID")[0]
        print(f"kill {k + 1:>2}/{args.kills} after {wait:.1f} s: cloudtrail rows {rows:,} of {events:,}", flush=True)
    proc = _start(work, lake_root)  # the last run catches up and stops cleanly
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _count(lake_root, "cloudtrail", "eventID")[0] < events:
        time.sleep(1)
    time.sleep(8)  # detections and alarms catch up
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    ct_rows, ct_distinct = _count(lake_root, "cloudtrail", "eventID")
    mx_rows, _ = _count(lake_root, "metrics", "_wl_origin", "namespace = 'App'")
    msgs = [json.loads(line) for line in (lake_root / "notify" / "oncall.jsonl").read_text().splitlines()] \
        if (lake_root / "notify" / "oncall.jsonl").exists() else []
    dup_ids = [m for m, n in Counter(e["MessageId"] for e in msgs).items() if n > 1]
    bodies = [json.loads(e["Message"]) for e in msgs]
    found = {a for a in attacks if any(a in b.get("event_ids", []) for b in bodies)}
    hist = AlarmStore(Lake(str(lake_root))).history("api-errors", item_type="StateUpdate")
    keys = Counter((str(h["timestamp"]), h["history_summary"]) for h in hist)
    dup_transitions = [k for k, n in keys.items() if n > 1]
    scored, scored_once, all_closed = _scored(lake_root)
    held = {
        "cloudtrail events exactly once": ct_rows == ct_distinct == events,
        "datapoints exactly once": mx_rows == points,
        "every attack found and notified": len(found) == len(attacks),
        "no notification twice": not dup_ids,
        "no alarm transition twice": not dup_transitions,
        "anomaly stage: no point scored twice": scored == scored_once >= ANOMALY_SERIES * 300,
        "clean stop": proc.returncode == 0,
    }
    print(f"\nkills: {args.kills} (after {min(kill_after):.1f}–{max(kill_after):.1f} s), "
          f"{time.monotonic() - t_start:.0f} s in all; lake {lake_root}")
    print(f"cloudtrail: put {events:,}, rows {ct_rows:,}, distinct {ct_distinct:,}")
    print(f"metrics (App/Errors): put {points:,}, rows {mx_rows:,}")
    print(f"findings notified for {len(found)}/{len(attacks)} attacks; "
          f"notifications {len(msgs)}, duplicates {len(dup_ids)}")
    print(f"alarm transitions recorded {len(hist)}, duplicates {len(dup_transitions)}")
    print(f"anomaly rows {scored}, distinct (series, minute) {scored_once}; App/Errors scored to its newest "
          f"closed minute: {all_closed}")
    for k, ok in held.items():
        print(f"  {'held' if ok else 'FAILED'}  {k}")
    print(f"tried {len(held)}, held {sum(held.values())}")
    if proc.returncode:
        print(err[-2000:])
    return 0 if all(held.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
