"""Bulk backfill: readers (:func:`pipeline.sources.read`) straight into the loader."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.console import Progress
from pipeline.loader.core import Loader, LoadSummary

if TYPE_CHECKING:
    from pipeline.config import LoaderSettings
    from pipeline.lake import Lake


def ingest(lake: Lake, settings: LoaderSettings, kind: str, locations: Sequence[str | os.PathLike[str]], *,
           quiet: bool = True, endpoint_url: str | None = None, since: Any = None, until: Any = None,
           workers: int = 1, **options: Any) -> LoadSummary:
    """Read ``locations`` as ``kind`` and load every batch; returns the loader's summary.

    ``workers`` > 1 loads the files in that many processes, each with its own share
    (:mod:`pipeline.loader.parallel`). Exactly-once and accounting guarantees are the
    :class:`~pipeline.loader.Loader`'s.
    """
    from pipeline.sources import read
    from pipeline.sources.locations import expand

    sources: list[str | os.PathLike[str]] = list(locations)
    if workers > 1:
        units = expand([str(x) for x in locations], endpoint_url=endpoint_url, since=since, until=until)
        if len(units) > 1:
            from pipeline.loader.parallel import ingest_parallel

            return ingest_parallel(lake, settings, kind, units, workers=workers, endpoint_url=endpoint_url,
                                   quiet=quiet, **options)
        sources = [u.origin for u in units]  # already expanded and filtered: not listed again
    batches = read(kind, sources, endpoint_url=endpoint_url, since=since, until=until, limits=settings.limits(),
                   **options)
    loader = Loader(lake, settings, progress=Progress(f"ingest {kind}", enabled=not quiet))
    return loader.add_all(batches)
