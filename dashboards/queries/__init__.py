"""Plain (uncached) query functions behind :mod:`dashboards.data`, one module per page area.

Every function takes a :class:`dashboards.lakedb.LakeDB` first and returns polars frames or
plain Python values; none of them imports Streamlit, so benchmarks and tests call them directly.
"""
