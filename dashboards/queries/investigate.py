"""The read-only SQL console: user SQL goes only through the SQL team's safe runner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboards.lakedb import LakeDB


def run_sql(db: LakeDB, sql: str, default_bound_hours: int | None, max_rows: int,
            timeout_seconds: float | None = 60, memory_limit_mib: int | None = 2048) -> dict[str, Any]:
    """Run one statement with :func:`pipeline.query.duck.run_query` (one SELECT, lake only,
    connection locked down, interrupted after ``timeout_seconds``, at most ``memory_limit_mib``);
    returns ``table`` (pyarrow), ``notes``, ``seconds``, ``truncated`` and ``error`` (the refusal,
    the limit that stopped it, or DuckDB's message)."""
    from pipeline.query.duck import run_query

    return _result(lambda: run_query(db.lake, sql, default_bound_hours=default_bound_hours, max_rows=max_rows,
                                     timeout_seconds=timeout_seconds, memory_limit_mib=memory_limit_mib))


def _result(fn: Any) -> dict[str, Any]:
    from pipeline.errors import PipelineError

    try:
        res = fn()
    except PipelineError as exc:
        return {"table": None, "notes": [], "seconds": 0.0, "truncated": False, "error": str(exc)}
    return {"table": res.table, "notes": list(res.notes), "seconds": res.seconds,
            "truncated": res.truncated, "error": None}


def user_folder() -> str:
    """The folder of the user's own investigations (``query.investigations_dir``, "" for none)."""
    from pipeline.config import load_settings

    return load_settings().query.investigations_dir


def catalog() -> dict[str, dict[str, Any]]:
    """Saved investigations (``pipeline.query.investigations``, built-in and the user's own):
    description, kind, origin and parameters. Raises InputError naming a malformed file."""
    from pipeline.query import investigations

    return {name: {"description": inv.description, "kind": inv.kind, "user": inv.user, "source": inv.source,
                   "params": [{"name": p.name, "type": p.type, "default": p.default,
                               "description": p.description} for p in inv.params.values()]}
            for name, inv in investigations.catalog(user_folder=user_folder()).items()}


def run_saved(db: LakeDB, name: str, values: tuple[tuple[str, str], ...], max_rows: int) -> dict[str, Any]:
    """Run a saved investigation with the given parameter values."""
    from pipeline.query.investigations import run_investigation

    folder = user_folder()
    return _result(lambda: run_investigation(db.lake, name, dict(values), max_rows=max_rows, user_folder=folder))


def metric_alarm_names(db: LakeDB) -> list[str]:
    """Names of the metric alarms (composites name no resource to look for), those in ALARM first."""
    from pipeline.alarms.store import AlarmStore

    store = AlarmStore(db.lake)

    def rank(name: str) -> tuple[int, str]:
        st = store.states.get(name)
        return (0 if st is not None and st.state_value == "ALARM" else 1, name)

    return sorted((a.name for a in store.metric_alarms()), key=rank)


def changed_before(db: LakeDB, alarm: str, at: datetime, hours: int) -> dict[str, Any]:
    """CloudTrail writes on the alarm's resources in the hours before its last transition to
    ALARM at or before ``at``."""
    from datetime import timedelta

    from pipeline.query.changes import alarm_moment
    from pipeline.query.changes import what_changed as changes

    return _result(lambda: changes(db.lake, alarm_moment(db.lake, alarm, at), lookback=timedelta(hours=hours)))


def what_changed(db: LakeDB, alarm: str, hours: int) -> dict[str, Any]:
    """CloudTrail writes on the alarm's resources in the hours before it last went to ALARM."""
    from datetime import timedelta

    from pipeline.query.changes import alarm_moment
    from pipeline.query.changes import what_changed as changes

    return _result(lambda: changes(db.lake, alarm_moment(db.lake, alarm), lookback=timedelta(hours=hours)))
