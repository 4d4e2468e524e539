"""Streamlit's "magic" writes any bare expression of a page script to the page, so a string
meant as a comment below a constant shows up as text. No page may have one (docstrings of the
module and of functions are exempt: magic skips them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.dashboards.conftest import REPO

SCRIPTS = sorted((REPO / "dashboards" / "views").glob("*.py")) + [REPO / "dashboards" / "app.py"]


def _bare_strings(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for i, stmt in enumerate(body):
            docstring = i == 0 and isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
            if (not docstring and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)):
                found.append(stmt.lineno)
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_bare_string_is_drawn_on_the_page(script: Path):
    assert _bare_strings(ast.parse(script.read_text())) == []


def test_the_metrics_page_shows_no_stray_text(all_data_metrics):
    assert not [m.value for m in all_data_metrics.markdown if "Points allowed" in m.value]


@pytest.fixture
def all_data_metrics(at):
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    return at.switch_page("views/metrics.py").run()
