"""Speed and memory measurements (not tests): ``python -m benchmarks.bench_<area> [--small]``.

Each benchmark generates its data under ``benchmarks/.data/`` (git-ignored) and compares
watchlake with the bare tool (DuckDB, polars) on the same data in the same run.
"""
