"""Seeded synthetic CloudTrail, written as AWS delivers it to S3.

Output layout (exactly the real one)::

    AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz
    AWSLogs/<acct>/CloudTrail-Digest/<region>/YYYY/MM/DD/<acct>_CloudTrail-Digest_<region>_<trail>_<home>_<YYYYMMDDTHHmmssZ>.json.gz

Events of each region are grouped in 5-minute windows and delivered 1–5 minutes after the window
closes; the file name and date folder carry the *delivery* time, as AWS does. One digest file
(log file integrity validation) covers the first delivery hour of the home region.

The activity model: every actor (:mod:`pipeline.synthetic.account`) makes a Poisson number of
calls per hour, scaled by a daily and weekly rhythm (humans: office hours on weekdays; machines:
around the clock with a mild daily wave); humans sign in to the console on working days
(with an occasional failed attempt). The mean rate over a week is ``rate`` events/s.

Determinism and memory: each file window draws from its own generator seeded by
``(seed, hour, window)``, so the output depends only on the arguments, and only one window of
events is held in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from pipeline.synthetic.account import ACCOUNT_ID, HOME_REGION, Actor, build_actors
from pipeline.synthetic.catalog import api_call
from pipeline.synthetic.events import assemble, console_login
from pipeline.synthetic.scenarios import inject
from pipeline.timeutil import floor, iso, to_utc

DEFAULT_RATE = 0.028
"""Mean events per second over a week (≈ 2,400 a day) unless ``--rate`` is given."""
TRAIL = "management-events"
WINDOW_S = 300
"""Events of one region and 5-minute window share a file (AWS delivers about every 5 minutes)."""


def _office(hour: int, weekday: int) -> float:
    if weekday >= 5:
        return 0.06
    if 8 <= hour < 18:
        return 1.0 if hour not in (12,) else 0.6
    if 6 <= hour < 8 or 18 <= hour < 21:
        return 0.3
    return 0.03


def _machine(hour: int, weekday: int) -> float:
    wave = 1.0 + 0.35 * np.sin(2 * np.pi * (hour - 8) / 24)
    return float(wave * (0.8 if weekday >= 5 else 1.0))


_HUMAN_MEAN = sum(_office(h, d) for h in range(24) for d in range(7)) / 168
_MACHINE_MEAN = sum(_machine(h, d) for h in range(24) for d in range(7)) / 168


@dataclass
class Result:
    """What a generator wrote."""

    events: int = 0
    files: int = 0
    bytes: int = 0
    labels: list[dict[str, Any]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


class S3Writer:
    """Writes ``Records`` files in the S3 layout; remembers the home region's first delivery hour
    for the digest file."""

    def __init__(self, out: Path, rng: random.Random, result: Result, level: int = 6):
        self.out, self.rng, self.result, self.level = out, rng, result, level
        self.digest_hour: datetime | None = None
        self.digest_files: list[dict[str, Any]] = []

    def write(self, region: str, delivered: datetime, events: list[dict[str, Any]]) -> None:
        chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        unique = "".join(self.rng.choice(chars) for _ in range(16))
        folder = self.out / "AWSLogs" / ACCOUNT_ID / "CloudTrail" / region / delivered.strftime("%Y/%m/%d")
        name = f"{ACCOUNT_ID}_CloudTrail_{region}_{delivered.strftime('%Y%m%dT%H%MZ')}_{unique}.json.gz"
        body = orjson.dumps({"Records": events})
        folder.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(body, compresslevel=self.level, mtime=0)
        (folder / name).write_bytes(data)
        self.result.files += 1
        self.result.bytes += len(data)
        self.result.paths.append(folder / name)
        hour = floor(delivered, 3600)
        if region == HOME_REGION and (self.digest_hour is None or self.digest_hour == hour):
            self.digest_hour = hour
            times = sorted(e["eventTime"] for e in events)
            self.digest_files.append({
                "s3Bucket": f"cloudtrail-logs-{ACCOUNT_ID}",
                "s3Object": (folder / name).relative_to(self.out).as_posix(),
                "hashValue": hashlib.sha256(body).hexdigest(), "hashAlgorithm": "SHA-256",
                "newestEventTime": times[-1], "oldestEventTime": times[0]})

    def write_digest(self) -> None:
        if self.digest_hour is None:
            return
        end = self.digest_hour + timedelta(hours=1)
        folder = (self.out / "AWSLogs" / ACCOUNT_ID / "CloudTrail-Digest" / HOME_REGION
                  / end.strftime("%Y/%m/%d"))
        stamp = end.strftime("%Y%m%dT%H%M%SZ")
        name = f"{ACCOUNT_ID}_CloudTrail-Digest_{HOME_REGION}_{TRAIL}_{HOME_REGION}_{stamp}.json.gz"
        fs = self.digest_files
        body = {"awsAccountId": ACCOUNT_ID, "digestStartTime": iso(self.digest_hour), "digestEndTime": iso(end),
                "digestS3Bucket": f"cloudtrail-logs-{ACCOUNT_ID}",
                "digestS3Object": (folder / name).relative_to(self.out).as_posix(),
                "digestPublicKeyFingerprint": f"{self.rng.getrandbits(128):032x}",
                "digestSignatureAlgorithm": "SHA256withRSA",
                "newestEventTime": max(f["newestEventTime"] for f in fs),
                "oldestEventTime": min(f["oldestEventTime"] for f in fs),
                "previousDigestS3Bucket": None, "previousDigestS3Object": None,
                "previousDigestHashValue": None, "previousDigestHashAlgorithm": None,
                "previousDigestSignature": None, "logFiles": fs}
        folder.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(orjson.dumps(body), mtime=0)
        (folder / name).write_bytes(data)
        self.result.files += 1
        self.result.bytes += len(data)
        self.result.paths.append(folder / name)


def _logins(rng: random.Random, actors: list[Actor], hour: datetime) -> list[dict[str, Any]]:
    """Morning console sign-ins of the humans (weekdays, 08:00–08:50), an occasional failure first."""
    events: list[dict[str, Any]] = []
    if hour.weekday() >= 5 or hour.hour != 8:
        return events
    for a in actors:
        if a.human and rng.random() < 0.9:
            when = hour + timedelta(seconds=rng.randrange(30, 3000))
            if rng.random() < 0.08:
                events.append(console_login(rng, a, when - timedelta(seconds=30), success=False))
            events.append(console_login(rng, a, when, mfa_used=a.mfa))
    return events


def _slice_events(rng: random.Random, nrng: np.random.Generator, actors: list[Actor], t0: datetime,
                  seconds: int, rate: float) -> list[dict[str, Any]]:
    """Baseline API calls of every actor in ``[t0, t0 + seconds)`` (inside one hour)."""
    total_w = sum(a.weight for a in actors)
    wd, h = t0.weekday(), t0.hour
    events: list[dict[str, Any]] = []
    for a in actors:
        factor = _office(h, wd) / _HUMAN_MEAN if a.human else _machine(h, wd) / _MACHINE_MEAN
        n = int(nrng.poisson(rate * seconds * a.weight / total_w * factor))
        weights = [w for w, _ in a.habits]
        habits = rng.choices([hb for _, hb in a.habits], weights=weights, k=n)
        for habit in habits:
            when = t0 + timedelta(seconds=int(rng.random() * seconds))
            region = a.regions[0] if len(a.regions) == 1 or rng.random() < 0.85 else rng.choice(a.regions[1:])
            console = a.human and rng.random() < 0.35
            events.append(assemble(rng, a, when, api_call(habit, rng, a), region=region, console=console))
    return events


def generate(out: Path, *, seed: int, start: datetime, duration_s: int, rate: float = DEFAULT_RATE,
             scenarios: list[str] | None = None, level: int = 6, window_s: int = WINDOW_S,
             progress: Callable[[int], None] | None = None) -> Result:
    """Write synthetic CloudTrail under ``out``; return counts and the scenario labels.

    Only events with ``start <= eventTime < start + duration`` are written. Scenario events are
    ordinary events in the same files; their labels are returned, not written. ``window_s``
    (a divisor of 3600) sets how many minutes of a region's events share one file; events are
    generated and written one such window at a time, so memory is bounded by
    ``rate × window_s`` events, whatever the duration.
    """
    start = to_utc(start)
    end = start + timedelta(seconds=duration_s)
    first, last = iso(start), iso(end)
    actors = build_actors(random.Random(f"{seed}:account"))
    result = Result()
    writer = S3Writer(out, random.Random(f"{seed}:files"), result, level)
    attack, result.labels = inject(scenarios or [], random.Random(f"{seed}:attacks"), actors, start, end)
    extra_by_slice: dict[datetime, list[dict[str, Any]]] = {}

    def park(events: list[dict[str, Any]]) -> None:
        for e in events:
            t = datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00"))
            extra_by_slice.setdefault(floor(t, window_s), []).append(e)

    park(attack)
    hour, index = floor(start, 3600), 0
    while hour < end:
        park(_logins(random.Random(f"{seed}:logins:{index}"), actors, hour))
        deliveries = random.Random(f"{seed}:delivery:{index}")
        for w in range(3600 // window_s):
            t0 = hour + timedelta(seconds=w * window_s)
            if t0 + timedelta(seconds=window_s) <= start or t0 >= end:
                extra_by_slice.pop(t0, None)
                continue
            rng = random.Random(f"{seed}:slice:{index}:{w}")
            nrng = np.random.default_rng([seed, index, w])
            evs = _slice_events(rng, nrng, actors, t0, window_s, rate) + extra_by_slice.pop(t0, [])
            evs = [e for e in evs if first <= e["eventTime"] < last]
            evs.sort(key=lambda e: e["eventTime"])
            by_region: dict[str, list[dict[str, Any]]] = {}
            for e in evs:
                by_region.setdefault(e["awsRegion"], []).append(e)
            for region, items in sorted(by_region.items()):
                delivered = t0 + timedelta(seconds=window_s + deliveries.randrange(60, 300))
                writer.write(region, delivered, items)
            result.events += len(evs)
            if progress is not None:
                progress(len(evs))
        hour += timedelta(hours=1)
        index += 1
    writer.write_digest()
    return result
