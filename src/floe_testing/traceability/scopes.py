"""Which tests ``--require-requirement-markers-for`` applies to: a path or a marker expression.

Teams usually want the marker obligation on integration tests first, so the option takes either
a path (``tests/integration``) or a marker expression in ``-m`` syntax (``integration and not
slow``). A value is taken as a path when it contains a path separator, ends in ``.py`` or names
an existing file or directory (relative to the directory pytest was invoked from); otherwise it
is a marker expression. An item is in scope when it is in scope of any of the values.

Marker expressions are parsed here (Python's own expression grammar, restricted to what ``-m``
accepts: marker names, ``and``, ``or``, ``not``, parentheses and ``name(key=value)``), not
with pytest's private ``_pytest.mark.expression``, which may change in any pytest release.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

Matcher = Callable[..., bool]


@dataclass(frozen=True)
class Expression:
    """A compiled marker expression (``integration and not slow``, ``feature(name="x")``)."""

    tree: ast.expr

    @classmethod
    def compile(cls, source: str) -> Expression:
        """Parse ``source``; a ``SyntaxError`` says what is not allowed."""
        tree = ast.parse(source.strip(), mode="eval").body
        _check(tree)
        return cls(tree)

    def evaluate(self, matcher: Matcher) -> bool:
        """Whether the expression holds, ``matcher(name, **kwargs)`` telling marker matches."""
        return _evaluate(self.tree, matcher)


def _check(node: ast.expr) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand)
    elif isinstance(node, ast.Call):
        if (not isinstance(node.func, ast.Name) or node.args
                or not all(k.arg and isinstance(k.value, ast.Constant) for k in node.keywords)):
            raise SyntaxError("only name(key=literal, ...) calls are allowed")
    elif not isinstance(node, ast.Name):
        raise SyntaxError(f"unexpected {ast.unparse(node)!r} (use marker names, and, or, not, "
                          "parentheses)")


def _evaluate(node: ast.expr, matcher: Matcher) -> bool:
    if isinstance(node, ast.BoolOp):
        combine = all if isinstance(node.op, ast.And) else any
        return combine(_evaluate(value, matcher) for value in node.values)
    if isinstance(node, ast.UnaryOp):
        return not _evaluate(node.operand, matcher)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return matcher(node.func.id, **{k.arg: k.value.value  # type: ignore[attr-defined]
                                        for k in node.keywords if k.arg})
    assert isinstance(node, ast.Name)
    return matcher(node.id)


@dataclass(frozen=True)
class PathScope:
    """Tests whose file is ``path`` or lies under it."""

    path: Path

    def matches(self, item: pytest.Item) -> bool:
        """Whether the item's file is this path or inside it."""
        item_path = Path(item.path).resolve()
        return item_path == self.path or self.path in item_path.parents


@dataclass(frozen=True)
class MarkerScope:
    """Tests selected by a marker expression, evaluated as ``-m`` does."""

    source: str
    expression: Expression

    def matches(self, item: pytest.Item) -> bool:
        """Evaluate the expression against the item's markers (own and inherited)."""
        marks = list(item.iter_markers())

        def matcher(name: str, /, **kwargs: str | int | bool | None) -> bool:
            return any(
                m.name == name and all(m.kwargs.get(k, object()) == v for k, v in kwargs.items())
                for m in marks
            )

        return self.expression.evaluate(matcher)


Scope = PathScope | MarkerScope


def _looks_like_path(raw: str, base: Path) -> bool:
    if "/" in raw or os.sep in raw or raw.endswith(".py"):
        return True
    return (base / raw).exists()


def parse_scopes(values: Iterable[str], base: Path) -> list[Scope]:
    """Parse the option values, raising ``pytest.UsageError`` for a malformed expression."""
    scopes: list[Scope] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if _looks_like_path(value, base):
            scopes.append(PathScope((base / value).resolve()))
            continue
        try:
            scopes.append(MarkerScope(value, Expression.compile(value)))
        except SyntaxError as exc:
            raise pytest.UsageError(
                f"--require-requirement-markers-for {value!r} is neither a path nor a valid "
                f"marker expression: {exc}"
            ) from None
    return scopes


def in_scope(item: pytest.Item, scopes: Sequence[Scope]) -> bool:
    """No scopes means every test; otherwise the item must match at least one."""
    return not scopes or any(scope.matches(item) for scope in scopes)
