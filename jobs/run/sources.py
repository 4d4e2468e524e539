"""The ``load`` stages of ``watchlake run``: streams and polled folders / ``s3://`` prefixes.

* :class:`StreamsStage` follows every local stream under ``stream.root`` whose name matches
  ``run.streams`` (streams created while it runs are picked up at the next step);
  :class:`KinesisStage` follows one of ``run.kinesis_streams`` on ``run.kinesis_endpoint`` (a
  stage of its own, so an unreachable endpoint backs off alone and never holds up the rest).
  Records are routed by content, as ``load --from-stream --route`` does, through one
  Firehose-like delivery per stream (consumer ``watchlake-run``, checkpointed).
* :class:`FolderStage` polls one ``KIND=LOCATION`` of ``run.sources`` for new objects — the way
  CloudTrail and Firehose deliver to S3 — and loads them; the objects it has loaded are
  remembered in ``_state/run/sources/`` once their rows are committed (a crash re-reads them, and
  the loader's de-duplication keeps the lake exactly-once). An ``s3://`` prefix is listed
  incrementally (:class:`S3Lister`): date-foldered keys, as CloudTrail and Firehose write them,
  from the day before the newest day of each folder on (S3 ``StartAfter``), with a full relist
  every ``FULL_RELIST_SECONDS`` for keys that sort earlier.

A source that cannot be read (a vanished folder, an unreachable endpoint) raises from ``step``:
the supervisor logs one line and retries with backoff.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from jobs.follow import Schedule
from jobs.run.stage import StepReport

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake
    from pipeline.loader import Loader
    from pipeline.loader.from_stream import StreamDelivery
    from pipeline.sources.base import Rejection
    from pipeline.sources.locations import Unit

CONSUMER = "watchlake-run"
FULL_RELIST_SECONDS = 600.0
_DAY = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/")


def live_loader(lake: Lake, settings: Settings) -> Loader:
    """A loader with the run's flush interval (``run.buffer_seconds``) as its buffering hint."""
    from pipeline.loader import Loader

    return Loader(lake, dataclasses.replace(settings.loader, buffer_seconds=settings.run.buffer_seconds))


class StreamsStage:
    """``load``: every followed stream into the lake (see the module docstring)."""

    urgent = True  # the supervisor runs it between other stages' steps when due

    name = "load"

    def __init__(self, lake: Lake, settings: Settings, *, max_polls: int = 20):
        self.lake, self.settings, self.max_polls = lake, settings, max_polls
        self.root = settings.stream.root
        self.schedule = Schedule(settings.run.poll_seconds)
        self.deliveries: dict[str, StreamDelivery] = {}

    def _discover(self) -> None:
        from pipeline.loader.from_stream import StreamDelivery
        from pipeline.stream import Stream
        from pipeline.stream.consumer import Checkpoints, LocalConsumer

        for name in Stream.names(self.root):
            key = f"local:{name}"
            if key in self.deliveries or not any(fnmatch.fnmatchcase(name, p) for p in self.settings.run.streams):
                continue
            consumer = LocalConsumer(Stream.open(self.root, name), Checkpoints.for_consumer(self.root, name, CONSUMER))
            self.deliveries[key] = StreamDelivery(consumer, live_loader(self.lake, self.settings), route=True)

    def step(self) -> StepReport:
        self._discover()
        return _step_deliveries(StepReport(self.name, detail=f"{len(self.deliveries)} streams"),
                                list(self.deliveries.values()), self.max_polls)

    def close(self) -> StepReport | None:
        rep = StepReport(self.name, detail="drained")
        for d in self.deliveries.values():
            s = d.loader.summary
            before = (s.loaded, s.rejected)
            d.close()
            rep.records_out += s.loaded - before[0]
            rep.rejected += s.rejected - before[1]
        return rep


def _step_deliveries(rep: StepReport, deliveries: list[StreamDelivery], max_polls: int) -> StepReport:
    for d in deliveries:
        s = d.loader.summary
        before = (s.loaded, s.rejected)
        rep.records_in += d.step(max_polls)
        rep.records_out += s.loaded - before[0]
        rep.rejected += s.rejected - before[1]
        rep.backlog |= not d.caught_up
    return rep


class KinesisStage:
    """``load``: one stream of ``run.kinesis_streams`` on ``run.kinesis_endpoint`` (module docstring).

    The consumer is made at the first step, not at start-up: an endpoint that cannot be reached (or
    a stream that does not exist yet) is a failed step — one log line, retried with backoff — and
    the run starts all the same. Calls time out after ``TIMEOUT_SECONDS`` with one retry, so a dead
    endpoint holds the supervisor's loop for seconds, not minutes.
    """

    urgent = True  # the supervisor runs it between other stages' steps when due

    TIMEOUT_SECONDS = 5

    def __init__(self, lake: Lake, settings: Settings, stream: str, *, max_polls: int = 20):
        self.lake, self.settings, self.stream, self.max_polls = lake, settings, stream, max_polls
        self.endpoint = str(settings.run.kinesis_endpoint)
        self.name = f"load:kinesis:{stream}"
        self.schedule = Schedule(settings.run.poll_seconds)
        self.delivery: StreamDelivery | None = None

    def _connect(self) -> StreamDelivery:
        from pipeline.errors import require
        from pipeline.loader.from_stream import StreamDelivery
        from pipeline.stream.consumer import Checkpoints
        from pipeline.stream.kinesis import KinesisConsumer

        boto3 = require("boto3", "s3", "reading a Kinesis endpoint")
        from botocore.config import Config

        client = boto3.client("kinesis", endpoint_url=self.endpoint, region_name=self.settings.lake.s3_region,
                              config=Config(connect_timeout=self.TIMEOUT_SECONDS, read_timeout=self.TIMEOUT_SECONDS,
                                            retries={"max_attempts": 2, "mode": "standard"}))
        cps = Checkpoints.for_consumer(self.settings.stream.root, self.stream, CONSUMER, self.endpoint)
        consumer = KinesisConsumer(self.stream, self.endpoint, cps, region=self.settings.lake.s3_region,
                                   client=client)
        return StreamDelivery(consumer, live_loader(self.lake, self.settings), route=True)

    def step(self) -> StepReport:
        if self.delivery is None:
            self.delivery = self._connect()
        return _step_deliveries(StepReport(self.name, detail=self.endpoint), [self.delivery], self.max_polls)

    def close(self) -> StepReport | None:
        if self.delivery is None:
            return None
        s = self.delivery.loader.summary
        before = (s.loaded, s.rejected)
        self.delivery.close()
        return StepReport(self.name, records_out=s.loaded - before[0], rejected=s.rejected - before[1],
                          detail="drained")


class S3Lister:
    """Lists an ``s3://bucket/prefix`` for a poller without listing all of it each time.

    Keys under ``YYYY/MM/DD/`` folders (CloudTrail: ``AWSLogs/<account>/CloudTrail/<region>/Y/M/D/``,
    Firehose: ``<prefix>Y/M/D/H/``) are grouped by the part before the date; a poll lists each
    group from the day before its newest day on (``StartAfter``), so new objects of every account
    and region, and objects delivered late for yesterday, are found at each poll. The first poll,
    a poll after ``full_every`` seconds, and every poll while some key has no date folder list the
    whole prefix: keys that sort earlier (a new region, a late object from days ago) are found
    there.
    """

    def __init__(self, location: str, endpoint: str | None, *, full_every: float = FULL_RELIST_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.location, self.endpoint, self.full_every, self.clock = location, endpoint, full_every, clock
        self.bucket, _, self.prefix = location[len("s3://"):].partition("/")
        self.newest: dict[str, date] = {}  # group (key up to the date folder) → newest day seen
        self.flat = False
        self.full_at: float | None = None
        self.full_lists = self.incremental_lists = 0

    def units(self) -> list[Unit]:
        """The objects to consider now (a superset of those new since the last call)."""
        from pipeline.sources.locations import expand, list_s3

        now = self.clock()
        if self.full_at is None or self.flat or not self.newest or now - self.full_at >= self.full_every:
            found = expand(self.location, endpoint_url=self.endpoint)  # raises when nothing is there
            self.full_at, self.flat = now, False
            self.full_lists += 1
        else:
            found = []
            for group, day in sorted(self.newest.items()):
                prefix = self.prefix if self.prefix.startswith(group) else group
                after = group + (day - timedelta(days=1)).strftime("%Y/%m/%d")
                found += list_s3(f"s3://{self.bucket}/{prefix}", self.endpoint, start_after=after)
            self.incremental_lists += 1
        for u in found:
            key = u.origin[len(f"s3://{self.bucket}/"):]
            days = list(_DAY.finditer(key))
            m = days[-1] if days else None
            if m is None:
                self.flat = True
                continue
            try:
                day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                self.flat = True
                continue
            group = key[:m.start(1)]
            if group not in self.newest or day > self.newest[group]:
                self.newest[group] = day
        return found


class FolderStage:
    """``load``: one ``KIND=LOCATION`` polled for new objects (see the module docstring)."""

    urgent = True  # the supervisor runs it between other stages' steps when due

    def __init__(self, lake: Lake, settings: Settings, source: str):
        kind, _, location = source.partition("=")
        self.lake, self.kind, self.location = lake, kind, location.strip()
        self.endpoint = settings.lake.s3_endpoint_url
        self.name = f"load:{kind}:{self.location}"
        self.schedule = Schedule(max(settings.run.poll_seconds, 5.0))
        self.state_path = f"_state/run/sources/{hashlib.sha1(source.encode()).hexdigest()[:16]}.json"
        self.seen: dict[str, int] = dict(lake.read_json(self.state_path)) if lake.exists(self.state_path) else {}
        self.pending: dict[str, int] = {}
        self.loader = live_loader(lake, settings)
        self.lister = S3Lister(self.location, self.endpoint) if self.location.startswith("s3://") else None

    def step(self) -> StepReport:
        from pipeline.sources import read
        from pipeline.sources.locations import expand

        listed = self.lister.units() if self.lister else expand(self.location, endpoint_url=self.endpoint)
        units = [u for u in listed if self.seen.get(u.origin) != u.size and self.pending.get(u.origin) != u.size]
        rep = StepReport(self.name, detail=f"{len(units)} new objects")
        s = self.loader.summary
        before = (s.records_in, s.loaded, s.rejected)
        if units:
            bad: dict[str, list[Rejection]] = {}
            for batch in read(self.kind, [u.origin for u in units], endpoint_url=self.endpoint):
                if batch.rejections:
                    bad.setdefault(batch.origin.split("#", 1)[0], []).extend(batch.rejections)
                self.loader.add(batch)
            self.pending.update({u.origin: u.size for u in units})
            rep.warnings = [f"{origin}: {len(rs)} record{'s' if len(rs) > 1 else ''} rejected ({rs[0].reason}); "
                            f"kept in errors/{rs[0].source}" for origin, rs in bad.items()]
        self.loader.tick()
        self._remember()
        rep.records_in, rep.records_out, rep.rejected = (s.records_in - before[0], s.loaded - before[1],
                                                         s.rejected - before[2])
        return rep

    def _remember(self) -> None:
        """Objects become "seen" only once nothing of theirs is buffered or in flight."""
        if self.pending and not self.loader.buffers and not self.loader.committer.inflight:
            self.seen.update(self.pending)
            self.pending.clear()
            self.lake.write_json(self.state_path, self.seen)

    def close(self) -> StepReport | None:
        s = self.loader.summary
        before = s.loaded
        self.loader.close()
        self._remember()
        return StepReport(self.name, records_out=s.loaded - before, detail="drained")

