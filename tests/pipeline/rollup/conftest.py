"""Fixtures of the rollup tests."""

from __future__ import annotations

import duckdb
import pytest


@pytest.fixture
def con():
    """A DuckDB connection in UTC, closed after the test."""
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()
