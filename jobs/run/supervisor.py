"""The supervisor of ``watchlake run``: every stage on its schedule, in pipeline order, forever.

Guarantees:

* stages run one at a time in pipeline order (load → detect → rollup → alarms → anomalies →
  insights → retention → compact) whenever they are due, on the one follow loop of
  :mod:`jobs.follow`; a stage never runs twice at once; the urgent ones (load, detect) also get a
  turn between the others' steps when they have come due (:meth:`Supervisor.tick`);
* an exception in a step is one log line naming the stage and the error; the stage is retried
  after a backoff that doubles from 1 s up to 5 minutes and resets on success — the run never
  stops for it (a vanished folder, an unreachable endpoint, an object that cannot be fetched);
* input a step did not take (an object rejected whole, or some of its records) is one log line
  each (the step's ``warnings``); the rejected records are kept with their reasons;
* on a stop request (SIGTERM/SIGINT) the running step finishes, then every stage is closed in
  pipeline order (loaders flush their buffers and checkpoint) and the health record is written;
* glibc's heap is tuned at the start (:func:`jobs.run.memory.tune`) and, at most every
  :data:`TRIM_SECONDS` between steps, freed heap memory is handed back to the kernel
  (:func:`jobs.run.memory.trim`): a run's RSS tracks what it holds, not its fragmentation.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jobs.follow import Schedule, Stop, follow
from jobs.run import memory
from jobs.run.health import Health
from jobs.run.stage import Stage, StepReport

TICK_SECONDS = 0.25
MAX_BACKOFF = 300.0
TRIM_SECONDS = 60.0


def urgent(stage: Stage) -> bool:
    """A stage that gets a turn between the other stages' steps: one whose ``urgent`` attribute is
    true (the loaders: everything waits for their commits; detect: a finding's notification is
    the pipeline's tightest latency aim)."""
    return bool(getattr(stage, "urgent", False))


@dataclass
class StageState:
    """The supervisor's book on one stage."""

    stage: Stage
    due: float = 0.0
    failures: int = 0
    runs: int = 0
    errors: int = 0


@dataclass
class RunReport:
    """What a run did, per stage: steps run, steps failed, records in and out, notifications."""

    seconds: float = 0.0
    ticks: int = 0
    steps: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    records_in: dict[str, int] = field(default_factory=dict)
    records_out: dict[str, int] = field(default_factory=dict)
    notifications: dict[str, int] = field(default_factory=dict)
    stop_reason: str = ""

    def add(self, rep: StepReport) -> None:
        for book, n in ((self.records_in, rep.records_in), (self.records_out, rep.records_out),
                        (self.notifications, rep.notifications)):
            book[rep.stage] = book.get(rep.stage, 0) + n


class Supervisor:
    """Runs ``stages`` (in the order given) on their schedules; see the module docstring."""

    def __init__(self, stages: list[Stage], health: Health, *, clock: Callable[[], float] = time.time,
                 log: Callable[[str], None] | None = None):
        self.states = [StageState(s) for s in stages]
        self.health, self.clock = health, clock
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.report = RunReport()
        self.trims = 0
        self._trimmed_at = self.clock()

    def _run_step(self, st: StageState) -> StepReport:
        name = st.stage.name
        t0 = self.clock()
        try:
            rep = st.stage.step()
            st.failures = 0
            st.due = st.stage.schedule.next_run(t0, self.clock())
        except Exception as exc:  # noqa: BLE001 - one stage's failure never stops the run
            st.failures += 1
            st.errors += 1
            backoff = min(MAX_BACKOFF, 2.0 ** (st.failures - 1))
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.log(f"watchlake run: {name}: {type(exc).__name__}: {msg} (retry in {backoff:.0f} s)")
            rep = StepReport(name, error=f"{type(exc).__name__}: {msg}")
            st.due = self.clock() + backoff
        for line in rep.warnings:
            self.log(f"watchlake run: {name}: {line}")
        rep.seconds = self.clock() - t0
        st.runs += 1
        self.report.steps[name] = st.runs
        self.report.errors[name] = st.errors
        self.report.add(rep)
        self.health.record(rep, failures=st.failures, next_due=st.due)
        return rep

    def tick(self) -> list[StepReport]:
        """Run every stage that is due now, in order; returns their reports. After each step of
        another stage, the urgent stages (:func:`urgent`: the loaders and detect) that have come
        due meanwhile run first, in pipeline order: a slow rollup or anomaly step no longer holds
        an attack's finding until the end of the tick. Each runs at most once between two other
        steps, so the others are never starved."""
        out: list[StepReport] = []
        quick = [st for st in self.states if urgent(st.stage)]
        for st in self.states:
            if st.due > self.clock():
                continue
            out.append(self._run_step(st))
            if not urgent(st.stage):
                out += [self._run_step(u) for u in quick if u.due <= self.clock()]
        if self.clock() - self._trimmed_at >= TRIM_SECONDS:
            self._trimmed_at = self.clock()
            memory.trim()
            self.trims += 1
        self.health.flush(self.clock())
        self.report.ticks += 1
        return out

    def run(self, stop: Stop, *, iterations: int | None = None) -> RunReport:
        """Tick until ``stop`` is set (or ``iterations`` ticks), then drain every stage."""
        t0 = self.clock()
        memory.tune()
        try:
            for _ in follow(self.tick, Schedule(TICK_SECONDS), stop=stop, iterations=iterations):
                pass
        finally:
            self.drain()
            self.report.seconds = self.clock() - t0
            self.report.stop_reason = stop.reason or ("iterations done" if iterations else "")
        return self.report

    def drain(self) -> None:
        """Close every stage in pipeline order (buffers flushed, checkpoints written)."""
        for st in self.states:
            try:
                rep = st.stage.close()
            except Exception as exc:  # noqa: BLE001 - drain the others all the same
                self.log(f"watchlake run: {st.stage.name}: drain failed: {type(exc).__name__}: {exc}")
                continue
            if rep is not None:
                self.report.add(rep)
                self.health.record(rep, failures=st.failures, next_due=st.due)
        self.health.flush(self.clock(), final=True)
