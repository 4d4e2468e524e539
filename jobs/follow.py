"""The one follow/schedule helper every continuous job runs on.

A job that follows new data is a *step* (one incremental pass returning a typed report) run on a
:class:`Schedule`. :func:`follow` runs the step at once, then at each due time, and yields every
report; it stops after ``iterations`` steps or when its :class:`Stop` is set.

Signals: inside :func:`stop_on_signals` the first SIGTERM or SIGINT *requests* a stop — the step
that is running finishes (buffers drain, checkpoints are written) and the loop ends before the
next one; waiting between steps ends at once. A second signal raises :class:`KeyboardInterrupt`
for an operator who does not want to wait.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TypeVar

from pipeline.errors import InputError

R = TypeVar("R")


@dataclass(frozen=True)
class Schedule:
    """When a step runs: every ``every`` seconds after the previous start, or — with ``align`` —
    at the wall-clock multiples of ``every`` plus ``offset`` (cron-like: ``Schedule(60, align=True,
    offset=1)`` runs a second after each minute boundary, as CloudWatch evaluates alarms)."""

    every: float
    align: bool = False
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not (self.every > 0 or (self.every == 0 and not self.align)) or not math.isfinite(self.every):
            raise InputError("a schedule needs a positive interval (0: back to back, unaligned)",
                             field="interval", value=self.every)

    def next_run(self, last_start: float, now: float) -> float:
        """The epoch second of the next run; never in the past relative to ``now`` by more than
        nothing (a step that overran its slot runs again at once, never twice to catch up)."""
        if self.align:
            due = (math.floor((now - self.offset) / self.every) + 1) * self.every + self.offset
        else:
            due = last_start + self.every
        return max(due, now)


class Stop:
    """A stop request shared by a loop and whoever may end it (a signal, a test, a supervisor)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str = "stop requested") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; returns True (early) as soon as a stop is requested."""
        return self._event.wait(max(0.0, seconds))


@contextmanager
def stop_on_signals(stop: Stop | None = None) -> Iterator[Stop]:
    """Route SIGTERM and SIGINT to ``stop`` (a new one by default) for the ``with`` block.

    The first signal sets the stop; a second raises KeyboardInterrupt. Outside the main thread
    (where Python cannot install handlers) the stop works only when set by hand. The previous
    handlers are restored on exit.
    """
    stop = stop or Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set(f"{signal.Signals(signum).name} received")

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in saved:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def follow(step: Callable[[], R], schedule: Schedule, *, iterations: int | None = None,
           stop: Stop | None = None, clock: Callable[[], float] = time.time) -> Iterator[R]:
    """Run ``step`` now and then on ``schedule``, yielding each report.

    Guarantees: steps never overlap; a stop requested during a step lets that step finish and
    yields its report, then ends; at most ``iterations`` steps run (None: until stopped).
    """
    stop = stop or Stop()
    done = 0
    while not stop.is_set():
        started = clock()
        yield step()
        done += 1
        if iterations is not None and done >= iterations:
            return
        if stop.wait(schedule.next_run(started, clock()) - clock()):
            return
