"""Bulk backfill: readers (:func:`pipeline.sources.read`) straight into the loader."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.console import Progress
from pipeline.loader.core import Loader, LoadSummary
from pipeline.sources.base import Batch

if TYPE_CHECKING:
    from pipeline.config import LoaderSettings
    from pipeline.lake import Lake


def ingest(lake: Lake, settings: LoaderSettings, kind: str, locations: Sequence[str | os.PathLike[str]], *,
           quiet: bool = True, endpoint_url: str | None = None, since: Any = None, until: Any = None,
           workers: int = 1, **options: Any) -> LoadSummary:
    """Read ``locations`` as ``kind`` and load every batch; returns the loader's summary.

    ``workers`` > 1 reads files in that many processes (:mod:`pipeline.loader.parallel`).
    Exactly-once and accounting guarantees are the :class:`~pipeline.loader.Loader`'s.
    """
    from pipeline.loader.parallel import batches as parallel_batches
    from pipeline.sources import read

    batches: Iterable[Batch]
    if workers > 1:
        it = parallel_batches(kind, list(locations), workers=workers, endpoint_url=endpoint_url,
                              since=since, until=until, **options)
        first = next(it, None)  # fork the readers now, before the loader starts its threads
        batches = itertools.chain([first] if first is not None else [], it)
    else:
        batches = read(kind, list(locations), endpoint_url=endpoint_url, since=since, until=until, **options)
    loader = Loader(lake, settings, progress=Progress(f"ingest {kind}", enabled=not quiet))
    return loader.add_all(batches)
