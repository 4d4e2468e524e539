"""The few writes a dashboard page can make (triage decisions and suppressions of findings), and
exports. Each write goes through the library (:mod:`pipeline.detections.triage`) and then drops
the cached file listing, so the next script run sees it at once."""

from __future__ import annotations

from typing import Any

from dashboards import data


def set_triage(finding_ids: list[str], state: str, who: str, note: str = "") -> int:
    """Record a triage decision in the lake and make the next run see it at once."""
    from pipeline.detections.triage import set_state

    n = set_state(data.lake(), finding_ids, state, who, note)
    data.invalidate_listing()
    return n


def add_suppression(rule_id: str, reason: str, who: str, principal: str | None, source_ip: str | None) -> None:
    from pipeline.detections.triage import suppress

    suppress(data.lake(), rule_id, reason, who, principal=principal, source_ip=source_ip)
    data.invalidate_listing()


def remove_suppression(suppression_id: str, who: str) -> None:
    from pipeline.detections.triage import unsuppress

    unsuppress(data.lake(), suppression_id, who)
    data.invalidate_listing()


def to_csv(table: Any) -> bytes:
    """A pyarrow table as CSV bytes (for download buttons)."""
    import io

    import pyarrow.csv as pcsv

    buf = io.BytesIO()
    pcsv.write_csv(_plain(table), buf)
    return buf.getvalue()


def _plain(table: Any) -> Any:
    """Nested/list columns as JSON text, so every column can be written as CSV."""
    import json

    import pyarrow as pa

    cols = []
    for col in table.columns:
        if pa.types.is_nested(col.type) or pa.types.is_binary(col.type):
            col = pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()],
                           pa.string())
        cols.append(col)
    return pa.table(dict(zip(table.column_names, cols)))
