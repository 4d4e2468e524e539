"""The shared follow/schedule helper: schedules, stop requests, and real SIGTERM/SIGINT handling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jobs.follow import Schedule, Stop, follow
from pipeline.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def test_aligned_schedule_runs_after_each_boundary():
    s = Schedule(60, align=True, offset=1)
    assert s.next_run(last_start=0, now=120.5) == 121        # 02:00 + 1 s
    assert s.next_run(last_start=0, now=121.0) == 181        # exactly at the slot: the next one
    assert s.next_run(last_start=0, now=3599.2) == 3601


def test_interval_schedule_never_catches_up_twice():
    s = Schedule(10)
    assert s.next_run(last_start=100, now=103) == 110
    assert s.next_run(last_start=100, now=135) == 135        # overran three slots: runs once, now


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_bad_interval_is_one_clear_error(bad):
    with pytest.raises(InputError, match="interval"):
        Schedule(bad)
    with pytest.raises(InputError):
        Schedule(0, align=True)


def test_follow_counts_iterations_and_waits_between_steps():
    calls: list[float] = []
    t0 = time.monotonic()
    out = list(follow(lambda: calls.append(time.monotonic()) or len(calls), Schedule(0.05), iterations=3))
    assert out == [1, 2, 3]
    assert calls[1] - calls[0] >= 0.045 and calls[2] - calls[1] >= 0.045
    assert time.monotonic() - t0 < 1.0


def test_stop_during_a_step_finishes_it_and_ends_the_loop():
    stop = Stop()

    def step() -> str:
        stop.set("test")
        return "finished"

    t0 = time.monotonic()
    assert list(follow(step, Schedule(3600), stop=stop)) == ["finished"]
    assert time.monotonic() - t0 < 1.0 and stop.reason == "test"


def test_stop_ends_the_wait_at_once():
    stop = Stop()
    gen = follow(lambda: "x", Schedule(3600), stop=stop)
    assert next(gen) == "x"
    stop.set()
    t0 = time.monotonic()
    assert list(gen) == []
    assert time.monotonic() - t0 < 1.0


SCRIPT = textwrap.dedent("""
    import sys, time
    from jobs.follow import Schedule, follow, stop_on_signals
    slow = float(sys.argv[1])
    def step():
        print("step-start", flush=True)
        time.sleep(slow)
        print("step-end", flush=True)
        return 1
    with stop_on_signals() as stop:
        n = sum(follow(step, Schedule(3600), stop=stop))
    print(f"clean exit after {n} steps: {stop.reason}", flush=True)
""")


def _start(slow: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-c", SCRIPT, str(slow)], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "step-start"
    return p


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_waiting_exits_cleanly_at_once(sig):
    p = _start(0.0)
    assert p.stdout is not None and p.stdout.readline().strip() == "step-end"
    time.sleep(0.2)  # now waiting for a slot an hour away
    t0 = time.monotonic()
    p.send_signal(sig)
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0 and time.monotonic() - t0 < 3
    assert f"clean exit after 1 steps: {sig.name} received" in out


def test_sigterm_during_a_step_lets_it_finish():
    p = _start(1.0)
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0
    assert out.splitlines() == ["step-end", "clean exit after 1 steps: SIGTERM received"]
