"""watchlake: a local-first monitoring and audit analytics pipeline for AWS-shaped data.

The package is importable without heavy dependencies: pyflink, streamlit and boto3 are
imported only inside the functions that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"
