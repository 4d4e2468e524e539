"""The load of :mod:`benchmarks.bench_run_soak`: a process putting CloudTrail events and Metric
Streams datapoints on a local stream in the issue's 1:10 mix (over :data:`SERIES` series), at a
rate that may change while it runs."""

from __future__ import annotations

import multiprocessing as mp
import time
from datetime import UTC, datetime
from typing import Any

from pipeline.stream import Stream

SERIES = 500

_EVENT = (b'{"eventVersion":"1.08","eventID":"%s","eventTime":"%s","eventSource":"s3.amazonaws.com",'
          b'"eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"soak",'
          b'"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/soak",'
          b'"accountId":"123456789012","userName":"soak"},"eventType":"AwsApiCall","readOnly":true,'
          b'"recipientAccountId":"123456789012","managementEvent":true}')
ATTACK = _EVENT.replace(b'"s3.amazonaws.com","eventName":"GetObject"',
                         b'"cloudtrail.amazonaws.com","eventName":"StopLogging"').replace(b"user/soak", b"user/canary")
_METRIC = (b'{"metric_stream_name":"soak","account_id":"123456789012","region":"us-east-1",'
           b'"namespace":"Bench/Load","metric_name":"Requests","dimensions":{"Service":"s%d"},"timestamp":%d,'
           b'"unit":"Count","value":{"count":1,"sum":%d,"min":%d,"max":%d}}')


def _put_loop(root: str, rate: Any, put: Any, late: Any, stop: Any) -> None:
    """The load process: keeps ``put`` at ``rate`` × seconds elapsed (a late second is made up in
    the next ones, at most one second's worth at a time)."""
    stream = Stream.open(root, "live")
    n, done, t_prev, owed = 0, 0, time.monotonic(), 0.0
    while not stop.is_set():
        tick = time.monotonic()
        owed += (tick - t_prev) * rate.value
        t_prev = tick
        count = int(min(owed, 2 * rate.value))
        owed -= count
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        ms = int(now.timestamp() * 1000)
        ct = count // 11
        recs = [(f"e{n}-{i}", _EVENT % (b"soak-%d-%d" % (n, i), stamp)) for i in range(ct)]
        recs += [(f"m{i % SERIES}", _METRIC % (i % SERIES, ms, i % 7, i % 7, i % 7)) for i in range(count - ct)]
        for i in range(0, len(recs), 500):
            stream.put(recs[i:i + 500])
        done += len(recs)
        put.value = done
        n += 1
        spent = time.monotonic() - tick
        late.value += spent > 1.0
        stop.wait(max(0.0, 1.0 - spent))


class Load:
    """A process putting ``rate`` records/s (1 CloudTrail event : 10 datapoints over 500 series) on
    ``live`` under ``root``; the rate may change while it runs; ``put`` counts what was put. Its own
    process, so that sampling never holds it up."""

    def __init__(self, root: str, rate: int):
        ctx = mp.get_context("spawn")
        self._rate, self._put, self._late = ctx.Value("q", rate), ctx.Value("q", 0), ctx.Value("q", 0)
        self._stop = ctx.Event()
        self.proc = ctx.Process(target=_put_loop, args=(root, self._rate, self._put, self._late, self._stop),
                                daemon=True)
        self.proc.start()

    @property
    def rate(self) -> int:
        return int(self._rate.value)

    @rate.setter
    def rate(self, value: int) -> None:
        self._rate.value = value

    @property
    def put(self) -> int:
        return int(self._put.value)

    @property
    def late(self) -> int:
        return int(self._late.value)

    def is_alive(self) -> bool:
        return self.proc.is_alive()

    def close(self) -> None:
        self._stop.set()
        self.proc.join(timeout=30)
