"""Readers for real AWS formats and seeded synthetic generators.

The public entry point is :func:`read`; one module per source format does the work
(:mod:`~pipeline.sources.cloudtrail_files`, :mod:`~pipeline.sources.metrics_files`,
:mod:`~pipeline.sources.logs_files`, :mod:`~pipeline.sources.kinesis_files`). Readers never write
files; they yield :class:`~pipeline.sources.base.Batch` es in the exact raw-table schemas.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pipeline.errors import InputError
from pipeline.sources.base import Batch, Rejection
from pipeline.sources.limits import DEFAULT_LIMITS, Limits

KINDS: dict[str, str] = {
    "cloudtrail": "pipeline.sources.cloudtrail_files",
    "metrics": "pipeline.sources.metrics_files",
    "logs": "pipeline.sources.logs_files",
    "records": "pipeline.sources.kinesis_files",
}
"""Reader kind → module with a ``read(decoded, **options)`` function."""

__all__ = ["KINDS", "Batch", "Limits", "Rejection", "read"]


def read(kind: str, locations: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
         endpoint_url: str | None = None, since: datetime | str | None = None,
         until: datetime | str | None = None, threads: int = 2, limits: Limits | None = None,
         **options: Any) -> Iterator[Batch]:
    """Read every file or object under ``locations`` as ``kind`` data.

    Args:
        kind: ``cloudtrail`` | ``metrics`` | ``logs`` | ``records``.
        locations: files, folders (recursive; names starting with ``.`` or ``_`` are ignored),
            globs and ``s3://bucket/prefix`` URLs.
        endpoint_url: S3-compatible endpoint for ``s3://`` locations.
        since, until: keep files whose ``YYYY/MM/DD`` date folder overlaps ``[since, until)``.
        threads: decompression threads (files are decoded ahead of parsing).
        limits: size and shape limits (:mod:`pipeline.sources.limits`; default: the defaults of
            the ``loader.max_*`` settings); an input over a limit is one rejection naming it.
        options: per kind — metrics: ``namespace``, ``metric_name``, ``dimensions`` (dict),
            ``unit`` for CSV / get-metric-statistics / get-metric-data input; logs:
            ``log_group``, ``log_stream`` for filter-log-events exports; records:
            ``stream_name``, ``shard_id``.

    Yields:
        Batches in file order; each file gives at least one batch when it held anything
        (records, rejections or skipped input). Bad records become rejections, never errors.

    Raises:
        InputError: unknown kind or option.
        InputNotFoundError: a location does not exist or matches nothing.
    """
    if kind not in KINDS:
        raise InputError(f"unknown source kind (use one of {', '.join(KINDS)})", field="kind", value=kind)
    from pipeline.sources.locations import decoded, expand

    module = importlib.import_module(KINDS[kind])
    allowed: tuple[str, ...] = getattr(module, "OPTIONS", ())
    for key in options:
        if key not in allowed:
            use = f" (use {', '.join(allowed)})" if allowed else ""
            raise InputError(f"unknown option for {kind}{use}", field=key)
    check = getattr(module, "check_options", None)
    if check is not None:
        check(options)
    units = expand(locations, endpoint_url=endpoint_url, since=since, until=until)
    lim = limits or DEFAULT_LIMITS
    return module.read(decoded(units, threads=threads, limits=lim), limits=lim,  # type: ignore[no-any-return]
                       **options)
