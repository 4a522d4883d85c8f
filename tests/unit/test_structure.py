"""The package's shape holds: no module imports one that imports it back (directly or not,
at module level, inside a function or for type checking alone), no package imports one built
on it, and no class grows past 250 lines. Read from the source, as a reviewer would."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "floe_testing"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Every floe_testing module each module imports, wherever the import statement is."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in modules:
                        graph[name].add(target)
                    elif base in modules:
                        graph[name].add(base)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node] - {node}:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _imports(_modules())
    assert sum(len(targets) for targets in graph.values()) > 100, "the graph was read"
    assert _cycles(graph) == []


#: (package, a package built on it): the first never imports the second
LAYERS = (("cluster", "in_cluster"), ("cluster", "fixtures"), ("cluster", "base"),
          ("cluster", "traceability"), ("services", "cluster"), ("services", "in_cluster"),
          ("traceability", "cluster"), ("traceability", "in_cluster"))


def test_no_package_imports_one_built_on_it() -> None:
    graph = _imports(_modules())
    upward = sorted(f"{source} -> {target}" for source, targets in graph.items()
                    for target in targets for lower, upper in LAYERS
                    if source.startswith(f"floe_testing.{lower}.")
                    and target.startswith(f"floe_testing.{upper}."))
    assert any(t.startswith("floe_testing.cluster.") for t in graph["floe_testing.in_cluster"
                                                                    ".runner"]), "read"
    assert upward == []


def test_no_class_is_longer_than_250_lines() -> None:
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > 250:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.name} ({length} lines)")
    assert long == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_test_modules_outside_packages_have_unique_names() -> None:
    """pytest imports a test module of a directory without ``__init__.py`` by its basename: two
    of them with one name break the collection of the whole run."""
    tests = PACKAGE.parents[1] / "tests"
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted(tests.rglob("test_*.py")):
        if (path.parent / "__init__.py").exists():
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(tests)} ~ {path.relative_to(tests)}")
        seen.setdefault(path.name, path)
    assert len(seen) > 20, "the test modules were found"
    assert clashes == []
