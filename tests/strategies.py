"""Hypothesis strategies the property tests share."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: Any JSON scalar, integers past 64 bits included.
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                         st.text(max_size=12))


def any_json(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON document: scalars, lists and objects nested up to ``max_leaves`` scalars."""
    return st.recursive(JSON_SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=max_leaves)
