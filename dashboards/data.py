"""The dashboards' one data-access module: every page gets its data here, cached.

Pages never hold SQL; they call the functions below, which run the plain queries in
:mod:`dashboards.queries` through one shared :class:`~dashboards.lakedb.LakeDB`, via
:func:`dashboards.session.run` — which lake, at which version, and the caching guarantees are
:mod:`dashboards.session`'s (its names used by the app are re-exported here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from dashboards import timerange
from dashboards.queries import alarms as q_al
from dashboards.queries import cloudtrail as q_ct
from dashboards.queries import detections as q_de
from dashboards.queries import metrics as q_mx
from dashboards.queries import pipeline as q_pl
from dashboards.queries import triage as q_tr
from dashboards.session import (  # noqa: F401 - the app's names, re-exported
    LISTING_TTL,
    db,
    db_for,
    fresh_version,
    invalidate_listing,
    lake,
    lake_root,
    pin_version,
    refresh_seconds,
    run,
    version,
)

CtFilter = q_ct.CtFilter
DIMENSIONS = q_ct.DIMENSIONS
OUTCOMES = q_ct.OUTCOMES
METRIC_STATISTICS = q_mx.STATISTICS
METRIC_PERIODS = q_mx.PERIODS
ALARM_STATES = q_al.STATES
FINDING_LEVELS = q_de.LEVELS
render_alarm_tree = q_al.render_tree


# -- lake-wide ---------------------------------------------------------------------------------

PAGE_TABLES: dict[str, tuple[str, ...]] = {
    "overview": ("cloudtrail", "metrics", "logs", "records"),
    "metrics": ("metrics", "metrics_1h"),
    "alarms": ("alarm_history",),
    "anomalies": ("anomalies", "insights"),
    "cloudtrail": ("cloudtrail",),
    "findings": ("findings",),
    "investigate": ("cloudtrail", "logs"),
    "pipeline": ("metrics",),
}
"""The tables each page shows. Its preset ranges end at the newest data of these tables, leaving
out a table whose data ends days after all the others (:func:`dashboards.timerange.common_newest`:
the Kinesis records a demo stamps with the wall clock do not move the page off the sample data);
"All data" spans them and every raw table, so it is the same range on every page."""


@st.cache_data(show_spinner=False, max_entries=64)
def _table_extent(root: str, ver: str, table: str) -> tuple[datetime | None, datetime | None, datetime | None]:
    e = db_for(root, ver).extent(table)
    return e.oldest, e.newest, e.latest


def page_extent(page: str) -> tuple[datetime | None, datetime | None, datetime | None, str | None]:
    """``(oldest, anchor, latest, anchor_table)`` for a page (see :data:`PAGE_TABLES`): presets end
    at ``anchor``, the newest data of the page's tables (:data:`PAGE_TABLES`; None, with no
    table, when none has any); "All data" runs from ``oldest`` to ``latest`` over the page's and the raw
    tables."""
    tables = PAGE_TABLES.get(page, PAGE_TABLES["overview"])
    every = dict.fromkeys([*tables, *PAGE_TABLES["overview"]])
    extents = {t: _table_extent(lake_root(), version(), t) for t in every}
    anchor = timerange.common_newest({t: e for t in tables if (e := extents[t][1]) is not None})
    olds = [e[0] for e in extents.values() if e[0] is not None]
    lates = [e[2] for e in extents.values() if e[2] is not None]
    return (min(olds) if olds else None, anchor[1] if anchor else None, max(lates) if lates else None,
            anchor[0] if anchor else None)


def table_extent(table: str) -> tuple[datetime | None, datetime | None]:
    """Oldest and very newest event time of one time-partitioned table (None, None when empty)."""
    oldest, _newest, latest = _table_extent(lake_root(), version(), table)
    return oldest, latest


def data_extent() -> tuple[datetime | None, datetime | None]:
    """Oldest and newest event time over the raw tables (None, None on an empty lake)."""
    oldest, _anchor, latest, _table = page_extent("overview")
    return oldest, latest


def has(view: str) -> bool:
    """True when the lake has data behind ``view``."""
    return db().has(view)


# -- overview ----------------------------------------------------------------------------------

def sources(start: datetime, end: datetime) -> Any:
    return run("ov.sources", start, end)


def volume(start: datetime, end: datetime, bucket: int) -> Any:
    return run("ov.volume", start, end, bucket)


def pipeline_status() -> dict[str, Any] | None:
    """The status ``watchlake run`` keeps (read fresh: it changes every few seconds)."""
    return q_pl.status(db())


def pipeline_series(start: datetime, end: datetime) -> Any:
    return run("pl.series", start, end)


def rejected_summary() -> Any:
    return run("ov.rejected_summary")


def rejected_recent(limit: int = 20) -> Any:
    return run("ov.rejected_recent", limit)


def storage() -> Any:
    return run("ov.storage")


# -- cloudtrail --------------------------------------------------------------------------------

def ct_facets(start: datetime, end: datetime) -> dict[str, list[str]]:
    return run("ct.facets_top", start, end)["facets"]


def ct_summary(flt: CtFilter) -> dict[str, int]:
    return run("ct.summary", flt)


def ct_timeline(flt: CtFilter, bucket: int) -> Any:
    return run("ct.timeline", flt, bucket)


def ct_top(flt: CtFilter, n: int = 10) -> Any:
    """Top lists; without filters they come from the same scan as the filter choices."""
    if flt.unfiltered and n == 10:
        return run("ct.facets_top", flt.start, flt.end)["top"]
    return run("ct.top", flt, n)


def ct_events(flt: CtFilter, limit: int = 500) -> Any:
    return run("ct.events", flt, limit)


def ct_event(event_id: str, dt: str | None = None) -> dict[str, Any] | None:
    return run("ct.event", event_id, dt)



# -- metrics -----------------------------------------------------------------------------------

def metric_series() -> Any:
    return run("mx.series")


def metric_data(namespace: str, metric_name: str, dimensions: str, stat: str, start: datetime,
                end: datetime, period: int | None, unit: str | None, max_points: int = 1440) -> dict[str, Any]:
    return run("mx.data", namespace, metric_name, dimensions, stat, start, end, period, unit, max_points)


def metric_extent(namespace: str, metric_name: str, dimensions: str,
                  unit: str | None) -> tuple[datetime | None, datetime | None]:
    return run("mx.extent", namespace, metric_name, dimensions, unit)


@st.cache_data(show_spinner=False, max_entries=128)
def metric_band(timestamps: list[datetime], values: list[float], k: float) -> dict[str, Any]:
    return q_mx.band(timestamps, values, k)


@st.cache_data(show_spinner=False, max_entries=128)
def metric_expression(text: str, lines: list[tuple[list[datetime], list[float]]], period: int) -> dict[str, Any]:
    return q_mx.expression(text, lines, period)


def metric_thresholds(namespace: str, metric_name: str, dimensions: str) -> list[dict[str, Any]]:
    return run("mx.thresholds", namespace, metric_name, dimensions)



# -- alarms ------------------------------------------------------------------------------------

def alarm_states() -> Any:
    return run("al.states")


def alarm_history(start: datetime, end: datetime, name: str | None = None) -> Any:
    return run("al.history", start, end, name)


def alarm_intervals(start: datetime, end: datetime) -> Any:
    return run("al.intervals", start, end)


def alarm_definition(name: str) -> dict[str, Any] | None:
    return run("al.definition", name)


def alarm_math_data(name: str, start: datetime, end: datetime) -> dict[str, Any]:
    return run("al.math_data", name, start, end)


def changed_before(alarm: str, at: datetime, hours: int) -> dict[str, Any]:
    return run("inv.changed_before", alarm, at, hours)


def alarm_trees() -> list[dict[str, Any]]:
    return run("al.trees")


# -- findings, anomalies, insights ---------------------------------------------------------------

def findings(start: datetime, end: datetime, levels: tuple[str, ...] = (), rules: tuple[str, ...] = ()) -> Any:
    return run("de.findings", start, end, levels, rules)


def finding_counts(start: datetime, end: datetime) -> Any:
    return run("de.finding_counts", start, end)


def finding_events(finding_id: str) -> Any:
    return run("de.finding_events", finding_id)


FINDING_STATES = ("new", "acknowledged", "resolved", "false_positive")
GROUP_WINDOWS = q_tr.GROUP_WINDOWS
group_findings = q_tr.grouped


def triaged_findings(start: datetime, end: datetime, levels: tuple[str, ...] = (),
                     rules: tuple[str, ...] = ()) -> Any:
    """Findings in the range with their triage state and suppression (see ``queries.triage``)."""
    return run("tr.triaged", start, end, levels, rules)


def finding_suppressions() -> Any:
    return run("tr.suppressions")


def anomalies(start: datetime, end: datetime) -> Any:
    return run("de.anomalies", start, end)


def anomaly_summary(start: datetime, end: datetime) -> Any:
    return run("de.anomaly_summary", start, end)


def anomaly_series(series_id: str, start: datetime, end: datetime) -> Any:
    return run("de.anomaly_series", series_id, start, end)


def anomaly_meta(series_id: str) -> dict[str, Any] | None:
    return run("de.anomaly_meta", series_id)


def insights(start: datetime, end: datetime) -> Any:
    return run("de.insights", start, end)
