"""End-to-end alert latency of ``watchlake run`` under a background load.

Starts ``watchlake run`` (default ``[run]`` settings) as a process on a temporary lake, puts a
steady background load on a local stream (CloudTrail events + Metric Streams datapoints, the rates
given), and measures, from a file subscriber:

* **finding latency** — an attack event (StopLogging) put on the stream → its finding notification;
* **alarm latency** — a breaching datapoint for minute M put during M → the ALARM notification,
  measured from the close of the period (M + 60 s); K alarms on K series per round, rounds until
  the trials are done (CloudWatch's own is about a minute);
* **anomaly latency** — K series (``Bench/Anomaly``, 6 hours of quiet history put first, then a
  normal point every 10 s) each get one anomalous point at M + 30 s → the anomaly alert on
  ``run.anomaly_topic``, measured from the close of M (M + 60 s); K series per round, a new set
  each round (an alert is sent for the first point of an episode);
* the stages' lag (``watchlake status``) sampled through the run: flat lag = the load is sustained.

    python -m benchmarks.bench_run [--small] [--ct-rate 2000] [--dp-rate 20000] [--trials 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.alarms.store import AlarmStore  # noqa: E402
from pipeline.alarms.validate import parse_alarm  # noqa: E402
from pipeline.lake import Lake  # noqa: E402
from pipeline.notify import TopicStore  # noqa: E402
from pipeline.stream import Stream  # noqa: E402


def _metric(t: datetime, ns: str, name: str, svc: str, v: float) -> bytes:
    return json.dumps({"metric_stream_name": "bench", "account_id": "123456789012", "region": "us-east-1",
                       "namespace": ns, "metric_name": name, "dimensions": {"Service": svc},
                       "timestamp": int(t.timestamp() * 1000), "unit": "Count",
                       "value": {"count": 1, "sum": v, "min": v, "max": v}}).encode()


def _event(eid: str, t: datetime, name: str = "GetObject", source: str = "s3.amazonaws.com") -> bytes:
    return json.dumps({"eventVersion": "1.08", "eventID": eid, "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
                       "sourceIPAddress": "198.51.100.7", "userAgent": "bench",
                       "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/bench",
                                        "accountId": "123456789012", "userName": "bench"},
                       "eventType": "AwsApiCall", "readOnly": name.startswith("Get"),
                       "recipientAccountId": "123456789012", "managementEvent": True}).encode()


def _quiet(k: int, t: datetime, rng: random.Random) -> float:
    """The normal value of anomaly series ``k`` at ``t``: a slow wave plus noise."""
    return 20.0 + 2.0 * math.sin(t.timestamp() / 1800.0 + k) + rng.gauss(0.0, 0.3)


def _anomaly_series(k: int, t: datetime, v: float) -> bytes:
    return _metric(t, "Bench/Anomaly", "Latency", f"a{k}", v)


class Heartbeat(threading.Thread):
    """A normal point for each of ``n`` anomaly series every 10 s (the series stay live)."""

    def __init__(self, stream: Stream, n: int):
        super().__init__(daemon=True)
        self.stream, self.n = stream, n
        self.stop = threading.Event()
        self.rng = random.Random(11)

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            now = datetime.now(UTC)
            self.stream.put([(f"hb-{k}-{i}", _anomaly_series(k, now, _quiet(k, now, self.rng))) for k in range(self.n)])
            i += 1
            self.stop.wait(10.0)


def history(stream: Stream, n: int, minutes: int = 360) -> None:
    """``minutes`` of quiet 1-minute history for ``n`` anomaly series, ending a minute ago."""
    rng = random.Random(5)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recs = [(f"h-{k}-{m}", _anomaly_series(k, now - timedelta(minutes=m), _quiet(k, now - timedelta(minutes=m), rng)))
            for k in range(n) for m in range(minutes, 0, -1)]
    for i in range(0, len(recs), 500):
        stream.put(recs[i:i + 500])


class Load(threading.Thread):
    """Puts ``ct`` CloudTrail events and ``dp`` datapoints (over 500 series) per second."""

    def __init__(self, stream: Stream, ct: int, dp: int):
        super().__init__(daemon=True)
        self.stream, self.ct, self.dp = stream, ct, dp
        self.stop = threading.Event()
        self.put = 0
        self.seconds = 0.0

    def run(self) -> None:
        n, t0 = 0, time.monotonic()
        while not self.stop.is_set():
            tick = time.monotonic()
            now = datetime.now(UTC)
            recs = [(f"bg-{n}-{i}", _event(f"bg-{n}-{i}", now)) for i in range(self.ct)]
            recs += [(f"m-{i % 500}", _metric(now, "Bench/Load", "Requests", f"s{i % 500}", float(i % 7)))
                     for i in range(self.dp)]
            for i in range(0, len(recs), 500):
                self.stream.put(recs[i:i + 500])
            self.put += len(recs)
            n += 1
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - tick)))
        self.seconds = time.monotonic() - t0


def start_run(work: Path, lake_root: Path, **run: str) -> subprocess.Popen[str]:
    """``watchlake run`` on ``lake_root`` following the streams under ``work/streams``, with ``[run]``
    settings as keyword arguments (``findings_topic="oncall"``); stderr is piped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLAKE__")}
    env.update({f"WATCHLAKE__RUN__{k.upper()}": v for k, v in run.items()})
    env.update(PYTHONPATH=str(REPO), WATCHLAKE__STREAM__ROOT=str(work / "streams"))
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", "-q", "--lake", str(lake_root), "run"], cwd=work,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _notifications(path: Path, seen: dict[str, float]) -> None:
    """Time each new notification line was first seen (by MessageId)."""
    if not path.exists():
        return
    now = time.time()
    for line in path.read_text().splitlines():
        env = json.loads(line)
        seen.setdefault(env["MessageId"] + "|" + env["Message"], now)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="5 trials each, a tenth of the load")
    ap.add_argument("--ct-rate", type=int, default=2000, help="background CloudTrail events/s (2000)")
    ap.add_argument("--dp-rate", type=int, default=20000, help="background datapoints/s (20000)")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--alarms", type=int, default=10, help="alarms (series) per round")
    args = ap.parse_args()
    if args.small:
        args.trials, args.ct_rate, args.dp_rate, args.alarms = 5, args.ct_rate // 10, args.dp_rate // 10, 5
    work = Path(tempfile.mkdtemp(prefix="bench_run_"))
    lake_root = work / "lake"
    lake = Lake(str(lake_root))
    topics = TopicStore(lake)
    topics.subscribe("oncall", "file", "notify/oncall.jsonl")
    topics.save()
    # one set of alarms per round: an alarm stays in ALARM while its breaching datapoint is inside
    # CloudWatch's evaluation range, so each round breaches series that have not breached before
    rounds = -(-args.trials // args.alarms)
    store = AlarmStore(lake)
    store.put([parse_alarm({"AlarmName": f"errors-{r}-{k}", "Namespace": "Bench/Alarm", "MetricName": "Errors",
                            "Dimensions": [{"Name": "Service", "Value": f"svc{r}-{k}"}], "Statistic": "Sum",
                            "Period": 60, "EvaluationPeriods": 1, "Threshold": 50,
                            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
                            "AlarmActions": ["oncall"]}) for r in range(rounds) for k in range(args.alarms)])
    store.save()
    stream = Stream.create(str(work / "streams"), "live", 4)
    anomaly_rounds = -(-args.trials // args.alarms)
    history(stream, anomaly_rounds * args.alarms)
    proc = start_run(work, lake_root, findings_topic="oncall", anomaly_topic="oncall", disable="insights")
    heartbeat = Heartbeat(stream, anomaly_rounds * args.alarms)
    heartbeat.start()
    load = Load(stream, args.ct_rate, args.dp_rate)
    load.start()
    out = lake_root / "notify" / "oncall.jsonl"
    seen: dict[str, float] = {}
    lags: list[float] = []
    finding_lat: list[float] = []
    alarm_lat: list[float] = []
    anomaly_lat: list[float] = []
    put_at: dict[str, float] = {}
    print(f"background load: {args.ct_rate:,} CloudTrail events/s + {args.dp_rate:,} datapoints/s "
          f"on 4 shards; lake {lake_root}", flush=True)
    try:
        time.sleep(5)
        for i in range(args.trials):  # findings: one attack event every 3 s
            eid = f"attack-{i:04d}"
            t_put = put_at[eid] = time.time()
            stream.put([(eid, _event(eid, datetime.now(UTC), "StopLogging", "cloudtrail.amazonaws.com"))])
            deadline = t_put + 120
            while time.time() < deadline:
                _notifications(out, seen)
                hit = [t for k, t in seen.items() if eid in k]
                if hit:
                    finding_lat.append(min(hit) - t_put)
                    break
                time.sleep(0.1)
            _sample_lag(lake_root, lags)
        print(f"finding latency: {len(finding_lat)}/{args.trials} trials, p50 {_pct(finding_lat, .5):.1f} s, "
              f"p95 {_pct(finding_lat, .95):.1f} s (aim <= 10 s)", flush=True)
        _finding_breakdown(lake_root, out, put_at)
        for r in range(rounds):  # alarms: K series breach in minute M (a new set each round)
            now = datetime.now(UTC)
            if now.second > 40:
                time.sleep(61 - now.second)
            minute = datetime.now(UTC).replace(second=0, microsecond=0)
            stream.put([(f"a{r}-{k}", _metric(minute + timedelta(seconds=30), "Bench/Alarm", "Errors",
                                              f"svc{r}-{k}", 500.0)) for k in range(args.alarms)])
            close = (minute + timedelta(minutes=1)).timestamp()
            got: dict[str, float] = {}
            while time.time() < close + 120 and len(got) < args.alarms:
                _notifications(out, seen)
                for k, t in seen.items():
                    msg = json.loads(k.split("|", 1)[1])
                    if msg.get("NewStateValue") == "ALARM" and str(msg.get("AlarmName", "")).startswith(f"errors-{r}-"):
                        got.setdefault(msg["AlarmName"], t)
                time.sleep(0.2)
            alarm_lat += [t - close for t in got.values()][: args.trials - len(alarm_lat)]
            _sample_lag(lake_root, lags)
            print(f"  round at {minute:%H:%M}: {len(got)}/{args.alarms} alarms, "
                  f"latency {', '.join(f'{t - close:.1f}' for t in got.values())} s", flush=True)
        print(f"alarm latency from the close of the period: {len(alarm_lat)} trials, p50 {_pct(alarm_lat, .5):.1f} s, "
              f"p95 {_pct(alarm_lat, .95):.1f} s (aim <= 15 s; CloudWatch about 60 s)", flush=True)
        _notifications(out, seen)
        early = sorted({json.loads(k.split("|", 1)[1]).get("AlarmName", "") for k in seen
                        if "anomaly:Bench/Anomaly" in k})
        if early:
            print(f"  anomaly alerts before any anomalous point (false alarms): {', '.join(early)}", flush=True)
        for r in range(anomaly_rounds):  # anomalies: K series get one anomalous point at M + 30 s
            now = datetime.now(UTC)
            time.sleep((30 - now.second) % 60 - now.microsecond / 1e6 if now.second != 30 else 0.0)
            minute = datetime.now(UTC).replace(second=0, microsecond=0)
            ks = range(r * args.alarms, (r + 1) * args.alarms)
            stream.put([(f"spike-{k}", _anomaly_series(k, datetime.now(UTC), 400.0)) for k in ks])
            close = (minute + timedelta(minutes=1)).timestamp()
            quoted = [f'"a{k}"' for k in ks]  # the series id (in the alert's name) holds the dimensions
            in_minute = minute.strftime("%Y-%m-%dT%H:%M")
            got: dict[str, float] = {}
            while time.time() < close + 180 and len(got) < args.alarms:
                _notifications(out, seen)
                for key, t in seen.items():
                    msg = json.loads(key.split("|", 1)[1])
                    name = str(msg.get("AlarmName", ""))
                    if name.startswith("anomaly:Bench/Anomaly") and name not in early \
                            and any(q in name for q in quoted) \
                            and str(msg.get("StateChangeTime", "")).startswith(in_minute):
                        got.setdefault(name, t)
                time.sleep(0.2)
            anomaly_lat += [t - close for t in got.values()][: args.trials - len(anomaly_lat)]
            _sample_lag(lake_root, lags)
            print(f"  round at {minute:%H:%M}: {len(got)}/{args.alarms} anomaly alerts, "
                  f"latency {', '.join(f'{t - close:.1f}' for t in got.values())} s", flush=True)
        print(f"anomaly latency from the close of its minute: {len(anomaly_lat)}/{anomaly_rounds * args.alarms} "
              f"trials alerted, p50 {_pct(anomaly_lat, .5):.1f} s, p95 {_pct(anomaly_lat, .95):.1f} s (aim <= 15 s)",
              flush=True)
    finally:
        heartbeat.stop.set()
        load.stop.set()
        load.join()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"background put: {load.put / max(load.seconds, 1e-9):,.0f} records/s achieved over {load.seconds:.0f} s")
    if lags:
        print(f"max stage lag sampled: first third {max(lags[: max(1, len(lags) // 3)]):.1f} s, "
              f"last third {max(lags[-max(1, len(lags) // 3):]):.1f} s (flat = sustained)")
    print(f"summary: finding p50 {_pct(finding_lat, .5):.1f} s p95 {_pct(finding_lat, .95):.1f} s; "
          f"alarm p50 {_pct(alarm_lat, .5):.1f} s p95 {_pct(alarm_lat, .95):.1f} s; "
          f"anomaly p50 {_pct(anomaly_lat, .5):.1f} s p95 {_pct(anomaly_lat, .95):.1f} s; "
          f"median finding {statistics.median(finding_lat) if finding_lat else float('nan'):.1f} s")
    return 0


def _finding_breakdown(lake_root: Path, out: Path, put_at: dict[str, float]) -> None:
    """Where a finding's latency goes, per attack event (medians and p95 over the trials): put →
    accepted by the loader (``_wl_ingest_time``: the load stage's poll), → committed (its file's
    modification time: the loader's buffer), → published (the notification's ``Timestamp``: the
    detect stage's wait and match), → seen by the subscriber's reader here."""
    import duckdb

    files = sorted(str(p) for p in (lake_root / "raw" / "cloudtrail").rglob("*.parquet"))
    if not files or not put_at:
        return
    con = duckdb.connect()
    rows = con.execute("SELECT eventID, epoch_ms(_wl_ingest_time) / 1000.0, filename FROM read_parquet(?, "
                       "filename = true, union_by_name = true) WHERE eventID IN (SELECT unnest(?))",
                       [files, sorted(put_at)]).fetchall()
    published: dict[str, float] = {}
    for line in out.read_text().splitlines() if out.exists() else []:
        env = json.loads(line)
        msg = json.loads(env["Message"])
        for eid in msg.get("event_ids", []) if isinstance(msg, dict) else []:
            if eid in put_at:
                t = datetime.fromisoformat(env["Timestamp"].replace("Z", "+00:00")).timestamp()
                published[eid] = min(published.get(eid, t), t)
    parts: dict[str, list[float]] = {"put->accepted": [], "accepted->committed": [], "committed->published": []}
    for eid, ingest, fname in rows:
        committed = os.stat(fname).st_mtime
        parts["put->accepted"].append(ingest - put_at[eid])
        parts["accepted->committed"].append(committed - ingest)
        if eid in published:
            parts["committed->published"].append(published[eid] - committed)
    print("  finding latency by part (p50 / p95 s): " + "; ".join(
        f"{k} {_pct(v, .5):.1f} / {_pct(v, .95):.1f}" for k, v in parts.items()), flush=True)


def _sample_lag(lake_root: Path, lags: list[float]) -> None:
    try:
        doc = json.loads((lake_root / "_state" / "run" / "status.json").read_text())
        lags.append(max(s["lag_seconds"] for s in doc["stages"].values()))
    except (OSError, ValueError, KeyError):
        pass


if __name__ == "__main__":
    sys.exit(main())
