"""Which lake the dashboards show, at which version, and the cache every query goes through.

Caching guarantees:
    * results are cached per (lake root, lake fingerprint, query, arguments) with
      ``st.cache_data``; the fingerprint is a hash of the lake's data-file listing, so new data
      (a new file, a compaction) yields new cache keys and is never hidden by the cache;
    * the fingerprint itself is re-listed at most every :data:`LISTING_TTL` seconds;
    * the DuckDB session is a ``st.cache_resource`` singleton per fingerprint (views are rebuilt
      when files appear, because an empty table's view differs from a populated one's).

The lake root comes from ``WATCHLAKE_DASHBOARD_LAKE`` (set by ``watchlake dashboard``), else
from the watchlake configuration (``watchlake.toml`` / ``WATCHLAKE__LAKE__ROOT``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboards.lakedb import LakeDB, fingerprint
from dashboards.queries import alarms as q_al
from dashboards.queries import cloudtrail as q_ct
from dashboards.queries import detections as q_de
from dashboards.queries import investigate as q_inv
from dashboards.queries import metrics as q_mx
from dashboards.queries import overview as q_ov
from dashboards.queries import pipeline as q_pl
from dashboards.queries import triage as q_tr
from pipeline.lake import Lake

LAKE_ENV = "WATCHLAKE_DASHBOARD_LAKE"
ENDPOINT_ENV = "WATCHLAKE_DASHBOARD_S3_ENDPOINT"
REFRESH_ENV = "WATCHLAKE_DASHBOARD_REFRESH"
LISTING_TTL = 2.0



def lake_root() -> str:
    """The lake the dashboard shows (see module docstring)."""
    root = os.environ.get(LAKE_ENV)
    if root:
        return root
    from pipeline.config import load_settings

    return load_settings().lake.root


def refresh_seconds() -> int:
    """How often the app checks the lake for new data (0 disables auto-refresh)."""
    raw = os.environ.get(REFRESH_ENV)
    if raw is not None and raw.strip().isdigit():
        return int(raw)
    from pipeline.config import load_settings

    return load_settings().dashboard.refresh_seconds


@st.cache_resource(show_spinner=False)
def _lake(root: str) -> Lake:
    return Lake(root, endpoint_url=os.environ.get(ENDPOINT_ENV) or None)


@st.cache_data(ttl=LISTING_TTL, show_spinner=False)
def _fingerprint(root: str) -> str:
    return fingerprint(_lake(root))


def fresh_version() -> str:
    """The lake fingerprint, listed now (used by the auto-refresh check)."""
    return fingerprint(_lake(lake_root()))


def version() -> str:
    """The lake fingerprint this script run uses (pinned per run in session state)."""
    pinned = st.session_state.get("_wl_version") if _in_app() else None
    return pinned or _fingerprint(lake_root())


def pin_version() -> str:
    """Fix the fingerprint for the current script run (call once at the top of the app)."""
    v = _fingerprint(lake_root())
    st.session_state["_wl_version"] = v
    return v


def _in_app() -> bool:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        return get_script_run_ctx() is not None
    except Exception:  # pragma: no cover - streamlit internals moved
        return False


@st.cache_resource(show_spinner=False, max_entries=2)
def db_for(root: str, ver: str) -> LakeDB:
    """The shared DuckDB session of lake ``root`` at version ``ver``."""
    return LakeDB(_lake(root))


def lake() -> Lake:
    """The lake the dashboard shows (one shared handle)."""
    return _lake(lake_root())


def db() -> LakeDB:
    """The shared DuckDB session for the current lake version."""
    return db_for(lake_root(), version())


QUERIES: dict[str, Callable[..., Any]] = {
    "ct.facets_top": q_ct.facets_and_top,
    "ct.summary": q_ct.summary,
    "ct.timeline": q_ct.timeline,
    "ct.top": q_ct.top,
    "ct.events": q_ct.events,
    "ct.event": q_ct.event,
    "ov.sources": q_ov.sources,
    "ov.volume": q_ov.volume,
    "ov.rejected_summary": q_ov.rejected_summary,
    "ov.rejected_recent": q_ov.rejected_recent,
    "ov.storage": q_ov.storage,
    "pl.series": q_pl.stage_series,
    "mx.series": q_mx.series,
    "mx.data": q_mx.data,
    "mx.thresholds": q_mx.thresholds,
    "mx.extent": q_mx.extent,
    "al.states": q_al.states,
    "al.history": q_al.history,
    "al.intervals": q_al.intervals,
    "al.trees": q_al.composite_trees,
    "al.definition": q_al.definition,
    "al.math_data": q_al.math_data,
    "de.findings": q_de.findings,
    "de.finding_counts": q_de.finding_counts,
    "de.finding_events": q_de.finding_events,
    "de.anomalies": q_de.anomalies,
    "de.anomaly_summary": q_de.anomaly_summary,
    "de.anomaly_series": q_de.anomaly_series,
    "de.insights": q_de.insights,
    "de.anomaly_meta": q_de.anomaly_meta,
    "tr.triaged": q_tr.triaged,
    "tr.suppressions": q_tr.suppressions,
    "inv.sql": q_inv.run_sql,
    "inv.saved": q_inv.run_saved,
    "inv.changes": q_inv.what_changed,
    "inv.changed_before": q_inv.changed_before,
    "inv.alarms": q_inv.metric_alarm_names,
}


@st.cache_data(show_spinner=False, max_entries=512)
def _run(root: str, ver: str, name: str, args: tuple[Any, ...]) -> Any:
    return QUERIES[name](db_for(root, ver), *args)


def run(name: str, *args: Any) -> Any:
    """Run the registered query ``name`` through the cache."""
    return _run(lake_root(), version(), name, args)


def invalidate_listing() -> None:
    """Forget the cached file listing so the next run sees new files at once."""
    _fingerprint.clear()
