"""The Parquet lake: layout, filesystem access and atomic commits."""

from __future__ import annotations

from pipeline.lake.layout import TABLES, TableSpec, partition_path, time_partitions
from pipeline.lake.store import Lake

__all__ = ["Lake", "TABLES", "TableSpec", "partition_path", "time_partitions"]
