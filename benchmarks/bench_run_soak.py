"""``watchlake run`` under sustained load: the highest rate every stage keeps up with, and a soak.

Starts ``watchlake run`` (default ``[run]`` settings, a findings topic for the canaries) as a
process on a fresh temporary lake and puts CloudTrail events and Metric Streams datapoints on a
local 4-shard stream in the issue's 1:10 mix (rate R = R/11 events/s + 10·R/11 datapoints/s over
500 series). Every ``--sample`` seconds it records, from outside the process:

* the lag of each stage, in seconds —
  ``load``: the age of the stream backlog (``watchlake status``, 0 while each step ends caught up);
  ``rollup``: now − the data clock its last step rolled up to (raw data not yet in the tiers);
  ``anomalies``: how long after its minute closed the newest 1-minute point was scored (from its
  checkpoint, to the sampling interval) — or, once the next minute is overdue, how long it has been;
  ``detect``: a canary attack event put every 30 s → its finding notification (while pending: its age);
* the RSS of the run process, the files of each table (every 30 s) and the 1-minute load average.

Modes:

* ``ramp`` — steps the rate up (``--rates``, ``--step-seconds`` each, default 10 minutes, one
  process); a step passes
  when every stage's lag is *flat*: over the step's last 80 %, the least-squares slope of its
  per-minute maximum lag is below ``--max-slope`` s/min (default 2) and its lag stays under
  ``--max-lag`` s (default 120).
  It stops at the first step that fails; the highest passing step is the sustained rate, to the
  resolution of the steps. (Steps much shorter than 10 minutes are dominated by the start-up: the
  first minutes' lags rise while the tiers and detector states fill, and 3–4 per-minute maxima do
  not tell that from a trend.)
* ``soak`` — one rate for ``--warmup`` (default 300 s) then ``--seconds`` more (default 1,800):
  lag flat as above (over the last 80 %, and over the first 10 minutes, the issue's
  sustained-rate criterion); RSS growth over the ``--seconds`` after the warm-up, from the mean of
  their first 5 minutes to the mean of their last 5 minutes, < 10 % (the warm-up is the process
  starting — its first sample is the bare interpreter — and filling what is bounded by time, not
  by the run's length: the de-duplication index's 5 minutes of hot keys, the tiers' open buckets,
  the detectors' states; the growth from the first 5 minutes of the whole run is printed too), and
  the RSS slope over the second half in MiB/min; files per table bounded (the most files in the
  last third ≤ 1.2 × the most in the middle third + 10, compaction running every
  ``run.compact_seconds``).

Prints one line per sample, a table per step, and a verdict per criterion; ``--short`` runs a
2–3 minute version of either mode (a check that the benchmark works, not a measurement).

    python -m benchmarks.bench_run_soak ramp [--rates 5500,11000,22000,33000,44000] [--step-seconds 600]
    python -m benchmarks.bench_run_soak soak --rate 11000 --seconds 600   # one rate held 10 minutes
    python -m benchmarks.bench_run_soak soak --rate 5500 [--warmup 300] [--seconds 1800]   # the 30-minute soak
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_run import start_run  # noqa: E402
from benchmarks.lagflat import STAGES, Sample, flat, slope_per_min  # noqa: E402
from benchmarks.lagflat import verdict_line as _table  # noqa: E402
from benchmarks.soakload import ATTACK, Load  # noqa: E402
from pipeline.lake import Lake  # noqa: E402
from pipeline.notify import TopicStore  # noqa: E402
from pipeline.stream import Stream  # noqa: E402

TABLES = ("cloudtrail", "metrics", "metrics_1m", "metrics_5m", "metrics_1h", "findings", "anomalies")

def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _mean(samples: list[Sample], key: str) -> float:
    vals = [s.memory[key] for s in samples if key in s.memory]
    return sum(vals) / len(vals) if vals else float("nan")


def _age(iso_text: str | None, now: float) -> float | None:
    if not iso_text:
        return None
    return now - datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


class Probe:
    """Reads the run's state from outside the process (see the module docstring)."""

    def __init__(self, lake_root: Path, stream: Stream, pid: int):
        self.root, self.stream, self.pid = lake_root, stream, pid
        self.lake = Lake(str(lake_root))
        self.canaries: dict[str, float] = {}   # event id → put time
        self.found: dict[str, float] = {}      # event id → notification seen
        self._read = 0
        self.files: dict[str, int] = {}
        self._files_at = 0.0
        self._scored = (0.0, float("nan"))  # newest minute scored, its delay after the minute closed

    def canary(self, n: int) -> None:
        eid = f"canary-{n:05d}"
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        self.stream.put([(eid, ATTACK % (eid.encode(), stamp))])
        self.canaries[eid] = time.time()

    def _notifications(self) -> None:
        path = self.root / "notify" / "oncall.jsonl"
        if not path.exists():
            return
        with path.open("rb") as fh:
            fh.seek(self._read)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        self._read += end
        for line in data[:end].splitlines():
            env = json.loads(line)
            body = json.loads(env["Message"])
            for eid in body.get("event_ids", []):
                if eid in self.canaries:  # published at
                    self.found.setdefault(eid, -(_age(env["Timestamp"], 0.0) or 0.0))

    def sample(self, rate: int, t0: float) -> Sample:
        now = time.time()
        lag: dict[str, float] = {}
        steps: dict[str, float] = {}
        try:
            doc = json.loads((self.root / "_state" / "run" / "status.json").read_text())
            status, mem = doc["stages"], {k: v for k, v in (doc.get("memory") or {}).items() if v is not None}
        except (OSError, ValueError, KeyError):
            status, mem = {}, {}
        for name, st in status.items():
            last = st.get("last_step") or {}
            steps[name] = float(last.get("seconds") or 0.0)
        if "load" in status:
            lag["load"] = float(status["load"]["lag_seconds"])
        rollup = (status.get("rollup") or {}).get("last_step") or {}
        if (a := _age(rollup.get("watermark"), now)) is not None:
            lag["rollup"] = max(0.0, a)
        lag["anomalies"] = self._anomaly_lag(now)
        self._notifications()
        if self.canaries:
            eid = max(self.canaries)  # the newest canary: its latency, or its age while pending
            lag["detect"] = self.found.get(eid, now) - self.canaries[eid]
        if now - self._files_at >= 30:
            self._files_at = now
            self.files = {t: len(self.lake.table_files(t)) for t in TABLES}
        return Sample(now - t0, rate, _rss_mib(self.pid), os.getloadavg()[0], lag, steps, dict(self.files), mem)

    def _anomaly_lag(self, now: float) -> float:
        states = sorted((self.root / "_state" / "anomalies").glob("*metrics1m*.json"))
        if not states:
            return float("nan")
        try:
            doc = json.loads(states[0].read_text())
        except (OSError, ValueError):
            return float("nan")
        series = doc["series"] if "version" in doc else doc  # jobs/anomaly_checkpoint.py (or its first, flat form)
        lasts = [float(v["last"]) for k, v in series.items() if k.startswith("Bench/Load")]
        if not lasts:
            return float("nan")
        last = max(lasts)
        if last != self._scored[0]:  # a newer minute was scored (seen now): its delay after it closed
            self._scored = (last, max(0.0, now - (last + 60.0)))
        # the last minute's scoring delay — or, once the next minute is overdue, how long it has been
        return max(self._scored[1], now - (last + 120.0))


class Harness:
    """One ``watchlake run`` process on a fresh lake with a load, a probe and a sample log."""

    def __init__(self, rate: int, sample_every: float, keep: bool):
        self.work = Path(tempfile.mkdtemp(prefix="bench_soak_"))
        self.keep, self.every = keep, sample_every
        lake_root = self.work / "lake"
        topics = TopicStore(Lake(str(lake_root)))
        topics.subscribe("oncall", "file", "notify/oncall.jsonl")
        topics.save()
        self.stream = Stream.create(str(self.work / "streams"), "live", 4)
        self.proc = start_run(self.work, lake_root, findings_topic="oncall")
        self.probe = Probe(lake_root, self.stream, self.proc.pid)
        self.load = Load(str(self.work / "streams"), rate)
        self.samples: list[Sample] = []
        self.t0 = time.time()
        self._canary_at = 0.0
        self._n = 0

    def run_for(self, seconds: float) -> list[Sample]:
        """Sample for ``seconds``; returns this period's samples."""
        out: list[Sample] = []
        end = time.time() + seconds
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"watchlake run exited with {self.proc.returncode}")
            if not self.load.is_alive():
                raise RuntimeError("the load thread stopped")
            if time.time() - self._canary_at >= 30:
                self._canary_at = time.time()
                self.probe.canary(self._n)
                self._n += 1
            s = self.probe.sample(self.load.rate, self.t0)
            out.append(s)
            lags = " ".join(f"{k} {s.lag.get(k, float('nan')):5.1f}" for k in STAGES)
            slow = max(s.step_seconds.items(), key=lambda kv: kv[1], default=("-", 0.0))
            m = s.memory
            print(f"  t {s.t:6.0f} s  rate {s.rate:>6,}/s  lag[{lags}]  rss {s.rss:6.0f} MiB (heap "
                  f"{m.get('heap_used_mib', 0):.0f}+{m.get('heap_free_mib', 0):.0f} free)  load {s.load1:4.1f}  "
                  f"slowest step {slow[0]} {slow[1]:.1f} s  files {sum(s.files.values())}", flush=True)
            time.sleep(max(0.0, self.every - (time.time() - s.t - self.t0)))
        self.samples += out
        return out

    def close(self) -> str:
        self.load.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        return err or ""


def ramp(args: argparse.Namespace) -> int:
    rates = [int(r) for r in args.rates.split(",")]
    h = Harness(rates[0], args.sample, args.keep)
    passed: list[int] = []
    rows: list[str] = []
    try:
        for rate in rates:
            h.load.rate = rate
            put0, t0 = h.load.put, time.time()
            print(f"step: {rate:,} records/s ({rate // 11:,} events + {rate - rate // 11:,} datapoints) "
                  f"for {args.step_seconds:.0f} s", flush=True)
            win = h.run_for(args.step_seconds)
            achieved = (h.load.put - put0) / (time.time() - t0)
            flats = flat(win, args.max_slope, args.max_lag)
            ok = all(f[0] for f in flats.values()) and achieved >= 0.95 * rate
            load1 = sum(s.load1 for s in win) / len(win)
            rows.append(f"{rate:>8,} {achieved:>10,.0f} {load1:>6.1f}  {'PASS' if ok else 'FAIL'}  {_table(flats)}")
            print(rows[-1], flush=True)
            if not ok:
                break
            passed.append(rate)
    finally:
        err = h.close()
    print("\n    rate   achieved  load1  verdict  per-stage lag (last 80 % of each step)")
    print("\n".join(rows))
    print(f"verdict: highest rate with every stage's lag flat: {max(passed):,} records/s" if passed
          else "verdict: no step passed")
    if h.proc.returncode:
        print(err[-2000:])
    return 0


@dataclass
class RssGrowth:
    """RSS over a soak: the measured span (after the warm-up), its first and last 5 minutes (a
    third of it if shorter), growth between their means, the same from the run's first 5
    minutes, and the least-squares slope over the measured span's second half (MiB/min)."""

    span: float
    edge: float
    firsts: list[Sample]
    lasts: list[Sample]
    start: list[float]
    growth: float
    from_start: float
    slope: float


def rss_growth(win: list[Sample], warmup: float) -> RssGrowth:
    measured = [s for s in win if s.t - win[0].t >= warmup and s.rss == s.rss]
    span = measured[-1].t - measured[0].t
    edge = min(300.0, span / 3)
    firsts = [s for s in measured if s.t - measured[0].t <= edge]
    lasts = [s for s in measured if measured[-1].t - s.t <= edge]
    first, last = [s.rss for s in firsts], [s.rss for s in lasts]
    start = [s.rss for s in win if s.t - win[0].t <= edge and s.rss == s.rss]
    mean_last = sum(last) / len(last)
    return RssGrowth(span, edge, firsts, lasts, start, mean_last / (sum(first) / len(first)) - 1.0,
                     mean_last / (sum(start) / len(start)) - 1.0,
                     slope_per_min([(s.t, s.rss) for s in measured if s.t - measured[0].t >= span / 2]))


def soak(args: argparse.Namespace) -> int:
    h = Harness(args.rate, args.sample, args.keep)
    print(f"soak: {args.rate:,} records/s ({args.rate // 11:,} events + {args.rate - args.rate // 11:,} "
          f"datapoints) for {args.warmup:.0f} s of warm-up + {args.seconds:.0f} s; lake {h.work / 'lake'}", flush=True)
    try:
        win = h.run_for(args.warmup + args.seconds)
        achieved = h.load.put / (time.time() - h.t0)
    finally:
        err = h.close()
    span = win[-1].t - win[0].t
    rss = rss_growth(win, args.warmup)
    firsts, lasts, edge, m_span = rss.firsts, rss.lasts, rss.edge, rss.span
    first, last, start = [s.rss for s in firsts], [s.rss for s in lasts], rss.start
    growth, from_start, rss_slope = rss.growth, rss.from_start, rss.slope
    flats = flat(win, args.max_slope, args.max_lag)
    first10 = flat([s for s in win if s.t - win[0].t <= 600], args.max_slope, args.max_lag)
    mid = [s for s in win if span / 3 <= s.t - win[0].t < 2 * span / 3]
    end = [s for s in win if s.t - win[0].t >= 2 * span / 3]
    bounded: dict[str, tuple[bool, int, int]] = {}
    for t in TABLES:
        m = max((s.files.get(t, 0) for s in mid), default=0)
        e = max((s.files.get(t, 0) for s in end), default=0)
        bounded[t] = (e <= 1.2 * m + 10, m, e)
    load1 = sum(s.load1 for s in win) / len(win)
    print(f"\nsoak {args.rate:,} records/s for {span:.0f} s: achieved {achieved:,.0f} records/s, "
          f"load average {load1:.1f} (2 cores, shared), load seconds late {h.load.late}")
    print(f"  {'criterion':<38} {'value':<60} verdict")
    verdicts = {
        f"RSS growth first {edge / 60:.0f} min -> last": (growth < 0.10, f"{sum(first) / len(first):.0f} -> "
                                                           f"{sum(last) / len(last):.0f} MiB ({growth:+.1%}) over "
                                                           f"{m_span / 60:.0f} min after {args.warmup / 60:.0f} min "
                                                           f"warm-up; 2nd half {rss_slope:+.2f} MiB/min"),
        "lag flat (last 80 %)": (all(f[0] for f in flats.values()), _table(flats)),
        "lag flat (first 10 min)": (all(f[0] for f in first10.values()), _table(first10)),
        "files bounded (middle -> last third)": (all(b[0] for b in bounded.values()),
                                                 ", ".join(f"{t} {m}->{e}" for t, (_, m, e) in bounded.items())),
        "input rate achieved (>= 95 %)": (achieved >= 0.95 * args.rate, f"{achieved:,.0f} of {args.rate:,}"),
    }
    for name, (ok, text) in verdicts.items():
        print(f"  {name:<38} {text:<60} {'PASS' if ok else 'FAIL'}")
    print(f"  RSS from the start of the run (warm-up included): {sum(start) / len(start):.0f} -> "
          f"{sum(last) / len(last):.0f} MiB ({from_start:+.1%})")
    print("  the run's own account, first -> last: " + ", ".join(
        f"{k.removesuffix('_mib')} {_mean(firsts, k):.0f} -> {_mean(lasts, k):.0f} MiB"
        for k in ("heap_used_mib", "heap_free_mib", "arrow_mib")))
    lat = [h.probe.found[e] - h.probe.canaries[e] for e in h.probe.found]
    print(f"  canary attacks notified {len(lat)}/{len(h.probe.canaries)}, latency max "
          f"{max(lat, default=float('nan')):.1f} s")
    if h.proc.returncode:
        print(err[-2000:])
    return 0 if all(ok for ok, _ in verdicts.values()) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["ramp", "soak"])
    ap.add_argument("--rates", default="5500,11000,22000,33000,44000", help="ramp: total records/s per step")
    ap.add_argument("--step-seconds", type=float, default=600.0, help="ramp: seconds per step (10 minutes)")
    ap.add_argument("--rate", type=int, default=22000, help="soak: total records/s")
    ap.add_argument("--seconds", type=float, default=1800.0, help="soak: duration measured after the warm-up")
    ap.add_argument("--warmup", type=float, default=300.0, help="soak: seconds run before the measured span")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--max-slope", type=float, default=2.0, help="flat: lag slope below this, s/min")
    ap.add_argument("--max-lag", type=float, default=120.0, help="flat: lag below this, s")
    ap.add_argument("--short", action="store_true", help="a 2-3 minute check of the benchmark itself")
    ap.add_argument("--keep", action="store_true", help="keep the temporary lake and stream")
    args = ap.parse_args()
    if args.short:
        args.step_seconds, args.seconds, args.warmup = 90.0, 150.0, 30.0
        if args.mode == "ramp":
            args.rates = ",".join(args.rates.split(",")[:2])
    print(f"uptime: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min load)",
          flush=True)
    return ramp(args) if args.mode == "ramp" else soak(args)


if __name__ == "__main__":
    sys.exit(main())
