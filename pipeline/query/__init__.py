"""Query layer: DuckDB over the lake."""
