"""Imports flow one way: search -> indexing -> indexing.vision, with mlops on top of indexing; no circles.

Read from the source with ``ast``, so an import inside a function (the usual way a
cycle sneaks back in, since it does not fail at import time) counts as much as one
at the top of a module, and so does ``importlib.import_module("...")``. Between the
project's modules, the imports make a graph with no circle: a module never imports,
through any chain, a module that imports it (the Celery tasks send by name through
indexing.queue for that reason).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("indexing", "search", "mlops", "visualsearch")

# (importer prefix, forbidden import prefixes, allowed exceptions among them), most specific first.
RULES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("indexing.vision", ("indexing", "search", "mlops"), ("indexing.vision",)),
    ("indexing", ("mlops", "search"), ()),
    ("search", ("mlops",), ()),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, module name) of every import in ``source``, at any depth, relative ones made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from indexing import services`` imports indexing.services: judge the full names.
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base
        elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def _is_import_call(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations_in(module: str, imports: list[tuple[int, str]]) -> list[str]:
    """One line per wrong-way import, naming the rule it breaks (the module's most specific one)."""
    rule = next((r for r in RULES if within(module, r[0])), None)
    if rule is None:
        return []
    importer, forbidden, allowed = rule
    return [
        f"{module}:{line} imports {name} ({importer} must not import {', '.join(forbidden)})"
        for line, name in imports
        if any(within(name, f) for f in forbidden) and not any(within(name, a) for a in allowed)
    ]


def project_modules() -> Iterator[tuple[Path, str]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, module_name(path)


def test_imports_flow_one_way() -> None:
    problems, scanned = [], {package: 0 for package in PACKAGES}
    for path, module in project_modules():
        imports = list(imported_modules(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"))
        scanned[module.partition(".")[0]] += len(imports)
        problems += violations_in(module, imports)
    # A scan that found nothing would pass whatever the code does.
    assert all(scanned.values()), scanned
    assert not problems, "\n".join(problems)


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a import b`` counts as a.b when that is a module)."""
    names = set(sources)

    def owner(name: str) -> str | None:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        targets = {owner(name) for _, name in imported_modules(source, module, is_package)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in order:
            continue
        work = [(root, iter(sorted(graph[root])))]
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in order:
                    order[step] = low[step] = len(order)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.get(step, ())))))
                elif step in on_stack:
                    low[node] = min(low[node], order[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    arrows = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
    return f"{len(component)} modules import each other: " + "; ".join(arrows)


def test_no_import_circle_anywhere() -> None:
    sources = {
        module: (path.read_text(encoding="utf-8"), path.name == "__init__.py") for path, module in project_modules()
    }
    graph = import_graph(sources)
    # The graph is the project's: hundreds of arrows, or the scan read nothing.
    assert sum(map(len, graph.values())) > 200
    found = circles(graph)
    assert not found, "\n".join(describe(component, graph) for component in found)


@pytest.mark.parametrize(
    "sources",
    [
        # The old services <-> tasks hinge: a lazy import of the tasks inside a service.
        {
            "indexing.jobs": "def send():\n    from indexing import tasks\n",
            "indexing.tasks": "from indexing import jobs\n",
        },
        # A longer circle, through a package's __init__.
        {
            "search.a": "from search.b import f\n",
            "search.b": "import search.c\n",
            "search.c": "from search import a\n",
            "search": "",
        },
    ],
)
def test_an_import_circle_is_caught(sources: dict[str, str]) -> None:
    graph = import_graph({module: (source, module == "search") for module, source in sources.items()})
    (component,) = circles(graph)
    assert len(component) >= 2 and set(component) <= set(sources)


def test_modules_that_import_one_way_make_no_circle() -> None:
    sources = {"indexing.tasks": "from indexing import jobs, queue\n", "indexing.jobs": "from indexing import queue\n"}
    graph = import_graph({**{m: (s, False) for m, s in sources.items()}, "indexing.queue": ("import celery\n", False)})
    assert circles(graph) == []


@pytest.mark.parametrize(
    ("module", "source", "wrong"),
    [
        ("indexing.vision.weights.resolve", "def f():\n    from mlops.weights import fetch\n", "mlops.weights.fetch"),
        ("indexing.vision.weights.resolve", "def f():\n    from ... import services\n", "indexing.services"),
        ("indexing.vision.images", "import search.query.image.photos\n", "search.query.image.photos"),
        ("indexing.tasks", "from mlops import training\n", "mlops.training"),
        ("search.query.services", "importlib.import_module('mlops.tracking')\n", "mlops.tracking"),
    ],
)
def test_a_wrong_way_import_anywhere_in_a_module_is_caught(module: str, source: str, wrong: str) -> None:
    (problem,) = violations_in(module, list(imported_modules(source, module)))
    assert f"imports {wrong} " in problem


def test_the_allowed_directions_pass() -> None:
    allowed = {
        "mlops.training": "from indexing.vision.weights.resolve import resolve_weights\nimport indexing.catalog\n",
        "search.query.image.photos": "from indexing.vision.detector import get_detector\nimport indexing\n",
        "indexing.services": "from indexing.vision.images import load_image\n",
        "indexing.vision.detector": "def f():\n    from .weights import resolve_detector_weights\n",
    }
    for module, source in allowed.items():
        assert violations_in(module, list(imported_modules(source, module))) == [], module
