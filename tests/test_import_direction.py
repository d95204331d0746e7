"""Imports flow one way: search -> indexing -> indexing.vision, with mlops on top of indexing.

Read from the source with ``ast``, so an import inside a function (the usual way a
cycle sneaks back in, since it does not fail at import time) counts as much as one
at the top of a module, and so does ``importlib.import_module("...")``.
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


@pytest.mark.parametrize(
    ("module", "source", "wrong"),
    [
        ("indexing.vision.weights", "def f():\n    from mlops.weights import fetch\n", "mlops.weights.fetch"),
        ("indexing.vision.weights", "def f():\n    from .. import services\n", "indexing.services"),
        ("indexing.vision.images", "import search.query.photos\n", "search.query.photos"),
        ("indexing.tasks", "from mlops import training\n", "mlops.training"),
        ("search.query.services", "importlib.import_module('mlops.tracking')\n", "mlops.tracking"),
    ],
)
def test_a_wrong_way_import_anywhere_in_a_module_is_caught(module: str, source: str, wrong: str) -> None:
    (problem,) = violations_in(module, list(imported_modules(source, module)))
    assert f"imports {wrong} " in problem


def test_the_allowed_directions_pass() -> None:
    allowed = {
        "mlops.training": "from indexing.vision.weights import resolve_weights\nimport indexing.catalog.datasets\n",
        "search.query.photos": "from indexing.vision.detector import get_detector\nfrom indexing import services\n",
        "indexing.services": "from indexing.vision.images import load_image\n",
        "indexing.vision.detector": "def f():\n    from .weights import resolve_detector_weights\n",
    }
    for module, source in allowed.items():
        assert violations_in(module, list(imported_modules(source, module))) == [], module
