"""The Firehose-like loader: reader batches → de-duplicated, partitioned Parquet, exactly once."""

from __future__ import annotations

from pipeline.loader.core import Loader, LoadSummary

__all__ = ["Loader", "LoadSummary"]
