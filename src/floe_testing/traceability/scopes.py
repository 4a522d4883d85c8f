"""Which tests ``--require-requirement-markers-for`` applies to: a path or a marker expression.

Teams usually want the marker obligation on integration tests first, so the option takes either
a path (``tests/integration``) or a marker expression in ``-m`` syntax (``integration and not
slow``). A value is taken as a path when it contains a path separator, ends in ``.py`` or names
an existing file or directory (relative to the directory pytest was invoked from); otherwise it
is a marker expression. An item is in scope when it is in scope of any of the values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from _pytest.mark import expression as _expression
from _pytest.mark.expression import Expression

# pytest 8 raises its own ParseError for a malformed expression, pytest 9 a SyntaxError.
_EXPRESSION_ERRORS: tuple[type[Exception], ...] = (
    getattr(_expression, "ParseError", SyntaxError),
    SyntaxError,
    pytest.UsageError,
)


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
        except _EXPRESSION_ERRORS as exc:
            raise pytest.UsageError(
                f"--require-requirement-markers-for {value!r} is neither a path nor a valid "
                f"marker expression: {exc}"
            ) from None
    return scopes


def in_scope(item: pytest.Item, scopes: Sequence[Scope]) -> bool:
    """No scopes means every test; otherwise the item must match at least one."""
    return not scopes or any(scope.matches(item) for scope in scopes)
