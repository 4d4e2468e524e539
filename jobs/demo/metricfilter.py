"""Demo stage: the sample metric filters (``sample_data/metricfilters/demo.yaml``) over every
sample log event — the live follower started from the lake's first log file, so running the demo
again adds nothing — before the rollups turn the datapoints into custom metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.demo import Demo


@dataclass
class MetricFilterStage:
    """The ``metric filters`` stage: filters put, log files and events read, datapoints per filter."""

    filters: int
    files: int
    events: int
    matched: int
    datapoints: int
    by_filter: dict[str, int] = field(default_factory=dict)

    def lines(self) -> dict[str, object]:
        return {"filters": self.filters, "log files read": self.files, "events read": f"{self.events:,}",
                "matched": f"{self.matched:,}", "datapoints": f"{self.datapoints:,} (into metrics)",
                **{f"filter {k}": f"{v:,}" for k, v in sorted(self.by_filter.items())}}


def metricfilter_stage(demo: Demo) -> MetricFilterStage:
    """Put the sample filters, then one step of the live follower from the first log file."""
    from pipeline.metricfilters.apply import FilterFollower
    from pipeline.metricfilters.model import FilterStore, load_filters
    from pipeline.timeutil import utcnow

    filters = load_filters(str(demo.sample_dir / "metricfilters" / "demo.yaml"))
    store = FilterStore(demo.lake)
    store.put(filters, utcnow())
    store.save()
    rep = FilterFollower(demo.lake, from_start=True).poll()
    return MetricFilterStage(len(filters), rep.files, rep.events, rep.matched, rep.datapoints, rep.by_filter)
