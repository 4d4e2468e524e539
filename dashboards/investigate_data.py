"""Cached data access of the Investigate page: saved investigations (built-in and the user's own),
the read-only SQL console and "what changed" (queries in :mod:`dashboards.queries.investigate`)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards import data
from dashboards.queries import investigate as q_inv


def _query_settings() -> tuple[int, int]:
    from pipeline.config import load_settings

    q = load_settings().query
    return q.default_bound_hours, q.max_rows


def run_sql(sql: str) -> dict[str, Any]:
    """User SQL through the safe read-only runner (cached per lake version and text), with the
    console's time and memory limits (``query.timeout_seconds``, ``query.memory_limit_mib``)."""
    from pipeline.config import load_settings

    q = load_settings().query
    return data.run("inv.sql", sql, q.default_bound_hours, q.max_rows, q.timeout_seconds, q.memory_limit_mib)


@st.cache_data(show_spinner=False, max_entries=8)
def _investigations(signature: tuple[tuple[str, int, int], ...]) -> dict[str, dict[str, Any]]:
    return q_inv.catalog()


def investigations() -> dict[str, dict[str, Any]]:
    """The saved investigations, built-in and the user's own: name → description, kind and
    parameters. Re-read whenever a file in the user's folder is added, changed or removed; raises
    InputError (one line naming file and field) for a malformed file."""
    from pathlib import Path

    folder = q_inv.user_folder()
    sig: tuple[tuple[str, int, int], ...] = ()
    if folder and Path(folder).is_dir():
        sig = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                           for p in Path(folder).iterdir() if p.is_file()))
    return _investigations((("", hash(folder), 0), *sig))


def run_investigation(name: str, values: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return data.run("inv.saved", name, values, _query_settings()[1])


def metric_alarm_names() -> list[str]:
    return data.run("inv.alarms")


def what_changed(alarm: str, hours: int) -> dict[str, Any]:
    return data.run("inv.changes", alarm, hours)
