"""The retention job: ``watchlake retention apply`` (see :mod:`pipeline.rollup.retention`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.rollup.retention import RetentionReport, apply_retention

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake


def retention(lake: Lake, settings: Settings, *, now: datetime | None = None,
              dry_run: bool = False) -> RetentionReport:
    """Apply (or with ``dry_run`` list) retention on raw metrics and every tier."""
    return apply_retention(lake, settings, now=now, dry_run=dry_run)
