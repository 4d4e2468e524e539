"""The library reads in one direction: no import cycle between sub-packages of ``pipeline/`` and
no import of ``jobs`` or ``dashboards`` from it.

The graph is built statically with :mod:`ast` from every ``import`` statement in ``pipeline/``,
wherever it sits (module level, inside a function, under ``TYPE_CHECKING``), so a lazy import
cannot hide a cycle. Dynamic imports count too: ``importlib.import_module("pipeline...")`` with a
literal name is an import of it, and in a file that imports a computed name every string literal
naming a ``pipeline`` module is one (that is how ``query/catalog.py`` used to reach three derived
packages). Nodes are sub-packages (``pipeline.loader``) and top-level modules
(``pipeline.config``); imports inside one sub-package are not edges.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "pipeline"

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute), at any depth of the file."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    dynamic = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)  # `from pipeline import lake`
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                in ("import_module", "__import__") and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                out.add(node.args[0].value)
            else:
                dynamic = True
    if dynamic:
        out.update(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and re.fullmatch(r"pipeline(\.\w+)+", n.value))
    return out


def unit(module: str) -> str | None:
    """The node a module belongs to: ``pipeline.<sub>`` (package or top-level module), or the
    top-level package for anything outside the library (``jobs``, ``dashboards``)."""
    parts = module.split(".")
    if parts[0] != "pipeline":
        return parts[0] if parts[0] in ("jobs", "dashboards") else None
    if len(parts) == 1:
        return None  # `from pipeline import x` is resolved through its names
    return ".".join(parts[:2])


def _library_units() -> set[str]:
    return {f"pipeline.{p.stem}" if p.is_file() else f"pipeline.{p.name}"
            for p in LIBRARY.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}


def import_graph() -> dict[str, dict[str, set[str]]]:
    """``unit → imported unit → files (relative) that make the import``."""
    units = _library_units()
    graph: dict[str, dict[str, set[str]]] = {u: {} for u in units}
    for path in sorted(LIBRARY.rglob("*.py")):
        src = unit(_module_name(path))
        if src is None:
            continue
        for name in imports_of(path):
            dst = unit(name)
            if dst is None or dst == src or (dst.startswith("pipeline.") and dst not in units):
                continue
            graph[src].setdefault(dst, set()).add(str(path.relative_to(ROOT)))
    return graph


def find_cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _describe(graph: dict[str, dict[str, set[str]]], comp: list[str]) -> str:
    edges = [f"  {a} -> {b}  ({', '.join(sorted(graph[a][b]))})"
             for a in comp for b in sorted(graph[a]) if b in comp]
    return "cycle between " + ", ".join(comp) + ":\n" + "\n".join(edges)


def test_no_cycles_between_pipeline_subpackages() -> None:
    graph = import_graph()
    library = {u: {d: f for d, f in deps.items() if d.startswith("pipeline.")} for u, deps in graph.items()}
    cycles = find_cycles(library)
    assert not cycles, "\n".join(_describe(library, c) for c in cycles)


def test_library_never_imports_jobs_or_dashboards() -> None:
    graph = import_graph()
    bad = [f"{u} -> {d}  ({', '.join(sorted(files))})" for u, deps in sorted(graph.items())
           for d, files in sorted(deps.items()) if d in ("jobs", "dashboards")]
    assert not bad, "pipeline/ imports the orchestration or UI layer:\n" + "\n".join(bad)


def test_jobs_never_import_dashboards() -> None:
    """The orchestration layer sits below the UI: ``jobs/`` (the CLI included) starts the Streamlit
    app by path, it never imports ``dashboards``."""
    bad = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "jobs").rglob("*.py")
                 if any(m == "dashboards" or m.startswith("dashboards.") for m in imports_of(p)))
    assert not bad, "jobs/ imports the UI layer: " + ", ".join(bad)


# -- the checker checks itself on hand-made graphs ----------------------------------------------

def test_find_cycles_sees_a_three_node_cycle_and_ignores_a_chain() -> None:
    g = {"a": {"b": {"x"}}, "b": {"c": {"y"}}, "c": {"a": {"z"}}, "d": {"a": {"w"}}}
    assert find_cycles(g) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b": {"x"}}, "b": {"c": {"y"}}, "c": {}}) == []


def test_function_level_and_importlib_imports_are_edges(tmp_path: Path) -> None:
    src = tmp_path / "pipeline" / "x" / "m.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f():\n    from pipeline.y import z\n    import importlib\n"
                   "    importlib.import_module('pipeline.w.v')\n"
                   "from . import sibling\nfrom ..q import r\n")
    computed = tmp_path / "pipeline" / "x" / "c.py"
    computed.write_text("import importlib\nOWNERS = {'a': ('pipeline.alarms.store', 'S')}\n"
                        "def f(k):\n    return importlib.import_module(OWNERS[k][0])\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        found = imports_of(src)
        found_computed = imports_of(computed)
    finally:
        ROOT = old
    assert {"pipeline.y", "pipeline.w.v", "pipeline.x.sibling", "pipeline.q.r"} <= found
    assert "pipeline.alarms.store" in found_computed
