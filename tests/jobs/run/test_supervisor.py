"""The supervisor: stages in order on their schedules, a failing stage isolated and retried with
backoff, every stage drained on stop, health booked."""

from __future__ import annotations

from jobs.follow import Schedule, Stop
from jobs.run.health import Health
from jobs.run.stage import StepReport
from jobs.run.supervisor import MAX_BACKOFF, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A stage that counts its steps and drains; ``fail`` steps raise first."""

    def __init__(self, name: str, every: float, calls: list[str], fail: int = 0):
        self.name, self.schedule, self.calls, self.fail = name, Schedule(every), calls, fail

    def step(self) -> StepReport:
        self.calls.append(self.name)
        if self.fail:
            self.fail -= 1
            raise OSError(f"folder /nope/{self.name} vanished")
        return StepReport(self.name, records_in=1, records_out=1)

    def close(self) -> StepReport | None:
        self.calls.append(f"close:{self.name}")
        return None


def _sup(lake, settings, stages, clock, lines):
    return Supervisor(stages, Health(lake, settings, metrics=False, interval=0), clock=clock, log=lines.append)


def test_due_stages_run_in_order_and_a_failing_one_backs_off(lake, settings):
    calls: list[str] = []
    lines: list[str] = []
    clock = Clock()
    a, bad, c = Counting("load", 1, calls), Counting("folder", 1, calls, fail=3), Counting("rollup", 5, calls)
    sup = _sup(lake, settings, [a, bad, c], clock, lines)
    sup.tick()
    assert calls == ["load", "folder", "rollup"]
    assert lines == ["watchlake run: folder: OSError: folder /nope/folder vanished (retry in 1 s)"]
    due = {st.stage.name: st.due - clock.now for st in sup.states}
    assert due == {"load": 1, "folder": 1, "rollup": 5}
    clock.now += 1
    calls.clear()
    sup.tick()
    assert calls == ["load", "folder"] and lines[-1].endswith("(retry in 2 s)")
    clock.now += 2
    sup.tick()
    assert lines[-1].endswith("(retry in 4 s)") and sup.states[1].failures == 3
    clock.now += 4
    sup.tick()  # the folder is back: backoff resets
    assert sup.states[1].failures == 0 and sup.states[1].due - clock.now == 1
    assert sup.report.errors == {"load": 0, "folder": 3, "rollup": 0}
    status = lake.read_json("_state/run/status.json")
    assert status["stages"]["folder"]["errors"] == 3 and status["stages"]["folder"]["failures_in_a_row"] == 0


def test_backoff_is_capped(lake, settings):
    clock = Clock()
    lines: list[str] = []
    bad = Counting("kinesis", 1, [], fail=100)
    sup = _sup(lake, settings, [bad], clock, lines)
    for _ in range(20):
        sup.tick()
        clock.now = sup.states[0].due
    assert sup.states[0].due - clock.now <= MAX_BACKOFF and lines[-1].endswith(f"(retry in {MAX_BACKOFF:.0f} s)")


def test_stop_drains_every_stage_in_order(lake, settings):
    calls: list[str] = []
    stop = Stop()

    class Stopper(Counting):
        def step(self) -> StepReport:
            stop.set("test")
            return super().step()

    sup = Supervisor([Counting("load", 1, calls), Stopper("alarms", 1, calls)],
                     Health(lake, settings, metrics=False), log=lambda line: None)
    rep = sup.run(stop)
    assert calls == ["load", "alarms", "close:load", "close:alarms"]
    assert rep.stop_reason == "test" and rep.steps == {"load": 1, "alarms": 1}
    assert lake.read_json("_state/run/status.json")["state"] == "stopped"


def test_lag_grows_while_a_stage_leaves_backlog(lake, settings):
    h = Health(lake, settings, metrics=False)
    h.record(StepReport("load", backlog=True, seconds=2.0), failures=0, next_due=0)
    lag = h.stages["load"].lag(h.stages["load"].behind_since + 5)  # type: ignore[operator]
    assert lag == 5
    h.record(StepReport("load", backlog=False), failures=0, next_due=0)
    assert h.stages["load"].lag(1e12) == 0


def test_freed_heap_is_trimmed_once_a_minute_and_memory_is_in_the_status(lake, settings):
    from jobs.run.supervisor import TRIM_SECONDS

    clock, calls, lines = Clock(), [], []
    sup = _sup(lake, settings, [Counting("load", 1, calls)], clock, lines)
    sup.tick()
    assert sup.trims == 0
    clock.now += TRIM_SECONDS
    sup.tick()
    clock.now += 1
    sup.tick()
    assert sup.trims == 1
    mem = lake.read_json("_state/run/status.json")["memory"]
    assert mem["rss_mib"] > 10 and mem["heap_used_mib"] > 0


class Slow(Counting):
    """A stage whose step takes ``seconds`` of the fake clock."""

    def __init__(self, name: str, every: float, calls: list[str], clock: Clock, seconds: float):
        super().__init__(name, every, calls)
        self.clock, self.seconds = clock, seconds

    def step(self) -> StepReport:
        self.clock.now += self.seconds
        return super().step()


def test_load_and_detect_get_a_turn_between_slow_steps_of_the_others(lake, settings):
    """A slow rollup and anomaly step (3 s each) no longer hold a loaded event's detection until
    the end of the tick: the urgent stages, due again after 1 s, run after each of them — once
    between two other steps, never more, and never before a step of their own came due."""
    calls: list[str] = []
    clock = Clock()
    load, detect = Counting("load", 1, calls), Counting("detect", 1, calls)
    load.urgent = detect.urgent = True  # type: ignore[attr-defined]
    quick_alarms = Counting("alarms", 1, calls)
    stages = [load, detect, Slow("rollup", 60, calls, clock, 3.0), quick_alarms,
              Slow("anomalies", 60, calls, clock, 3.0)]
    sup = _sup(lake, settings, stages, clock, [])
    sup.tick()
    assert calls == ["load", "detect", "rollup", "load", "detect", "alarms", "anomalies", "load", "detect"]
    # the quick alarms step left them not due: nothing ran between it and anomalies
    calls.clear()
    clock.now += 1
    sup.tick()  # only the 1-second stages are due, and run once each
    assert calls == ["load", "detect", "alarms"]
