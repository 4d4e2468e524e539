"""What the supervisor runs: a :class:`Stage` is one incremental pass of a job on a schedule.

Every stage keeps its own checkpoint in the lake (stream consumer checkpoints, the rollup
runner's source snapshot, alarm states, the anomaly job's detector state, the detection
follower's file list), so a step after a restart — or after SIGKILL — continues where the last
completed step left off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from jobs.follow import Schedule


@dataclass
class StepReport:
    """One step of one stage.

    ``backlog`` is True when the step stopped with input left to process (it will catch up on
    the next steps); ``watermark`` is the newest event time the stage has processed, when known;
    ``warnings`` are lines for the run's log about input it did not take (a bad object), one each.
    """

    stage: str
    records_in: int = 0
    records_out: int = 0
    rejected: int = 0
    notifications: int = 0
    backlog: bool = False
    watermark: datetime | None = None
    detail: str = ""
    seconds: float = 0.0
    error: str = ""
    warnings: list[str] = field(default_factory=list)


class Stage(Protocol):
    """A stage of ``watchlake run``: a name, a schedule, a step and a drain."""

    name: str
    schedule: Schedule

    def step(self) -> StepReport:
        """Process what is new since the last step; checkpoint before returning."""
        ...

    def close(self) -> StepReport | None:
        """Drain buffers and write the checkpoint (on SIGTERM); a report when it did work."""
        ...
