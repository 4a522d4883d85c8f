"""Finding hard-coded ``time.sleep`` in test code with :mod:`ast` (``--forbid-sleep``).

A fixed sleep makes a test slow when the system is fast and flaky when it is slow; tests should
poll for the condition instead (``wait_for_condition``). A regex would both miss aliases and flag
``asyncio.sleep`` or a local helper named ``sleep``, so the check resolves names through the
module's imports:

* ``import time`` / ``import time as t`` bind a *module alias*; ``<alias>.sleep`` is flagged;
* ``from time import sleep`` / ``... import sleep as nap`` / ``from time import *`` bind a
  *function alias*; a bare call or reference to it is flagged;
* ``__import__("time").sleep`` is flagged.

Calls are flagged, and so are bare references such as ``retry(wait=time.sleep)``, because
passing the function along sleeps just the same. Names bound elsewhere (``asyncio.sleep``, a
``def sleep`` in the module that never imported it from ``time``) are not flagged. Imports are
gathered module-wide (including inside functions); shadowing within nested scopes is not
tracked, which errs on the side of reporting.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

_FORMATTED = re.compile(r"^(?P<path>.*):(?P<line>\d+):(?P<col>\d+): ")


@dataclass(frozen=True, order=True)
class SleepFinding:
    """One forbidden use: where it is and how it was spelled in the source."""

    path: str
    line: int
    col: int
    spelling: str

    def format(self) -> str:
        """``path:line:col: time.sleep ...`` so editors and CI logs can jump to it."""
        return f"{self.path}:{self.line}:{self.col + 1}: {self.spelling}"


def _time_aliases(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound to the ``time`` module and names bound to ``time.sleep``, module-wide."""
    module_aliases: set[str] = set()
    sleep_aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "time":
                    module_aliases.add(alias.asname or "time")
        elif isinstance(node, ast.ImportFrom) and node.module == "time" and node.level == 0:
            for alias in node.names:
                if alias.name == "sleep":
                    sleep_aliases.add(alias.asname or "sleep")
                elif alias.name == "*":
                    sleep_aliases.add("sleep")
    return module_aliases, sleep_aliases


def _is_dunder_import_time(node: ast.expr) -> bool:
    """``__import__("time")``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "__import__"
        and len(node.args) >= 1
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "time"
    )


def _describe(node: ast.expr) -> str:
    """The source spelling of the flagged expression, for the message."""
    return ast.unparse(node)


def find_sleep_calls_in_source(source: str | bytes, path: str) -> list[SleepFinding]:
    """Every use of ``time.sleep`` in ``source``; a file that does not parse yields nothing.

    Unparseable files are left to pytest, which reports them as collection errors with a far
    better message than this check could give.
    """
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        return []
    module_aliases, sleep_aliases = _time_aliases(tree)
    findings: list[SleepFinding] = []
    called: set[int] = set()

    def flag(node: ast.expr, what: str) -> None:
        findings.append(SleepFinding(path, node.lineno, node.col_offset, what))

    def resolves_to_sleep(node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in sleep_aliases and isinstance(node.ctx, ast.Load)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "sleep"
            and isinstance(node.ctx, ast.Load)
        ):
            value = node.value
            if isinstance(value, ast.Name) and value.id in module_aliases:
                return True
            return _is_dunder_import_time(value)
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and resolves_to_sleep(node.func):
            called.add(id(node.func))
            flag(node, f"call {_describe(node)} (time.sleep)")
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.Name, ast.Attribute))
            and id(node) not in called
            and resolves_to_sleep(node)
        ):
            flag(node, f"reference {_describe(node)} (time.sleep)")
    return sorted(findings)


def finding_sort_key(formatted: str) -> tuple[str, int, int, str]:
    """Order formatted findings by path, then numerically by line and column (9 before 12)."""
    match = _FORMATTED.match(formatted)
    if match is None:
        return (formatted, 0, 0, formatted)
    return (match["path"], int(match["line"]), int(match["col"]), formatted)


def find_sleep_calls(file: Path, display_path: str) -> list[SleepFinding]:
    """Scan one file; an unreadable file yields nothing (pytest reports it on import)."""
    try:
        source = file.read_bytes()
    except OSError:
        return []
    return find_sleep_calls_in_source(source, display_path)
