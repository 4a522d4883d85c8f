"""Fixtures for the traceability tests: pytester plus small spec / test-tree builders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Enable pytest's ``pytester`` plugin for these tests.

    ``pytest_plugins = ["pytester"]`` would do the same, but pytest rejects ``pytest_plugins``
    in a conftest that is not loaded up front (``tests/traceability`` is found during
    collection of a whole-suite run), so the plugin is imported here instead. pytest calls
    this hook when the conftest is registered, and options the plugin adds late still get
    their defaults.
    """
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


SPEC_TEXT = """\
# Example spec (001)

## Requirements
- **001-FR-001**: first. Related to 001-FR-002.
- **001-FR-002**: second.
- **001-FR-003**: third.
- **001-FR-004a**: fourth, lettered.

## Success criteria
- **001-SC-001**: not a functional requirement, must not count.
"""


@pytest.fixture
def spec_file(pytester: pytest.Pytester) -> Path:
    """A spec defining 001-FR-001..003 and 001-FR-004a (and an SC line that must not count)."""
    path = pytester.path / "docs" / "requirements.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SPEC_TEXT, encoding="utf-8")
    return path


def _load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def read_json() -> Callable[[Path], dict[str, Any]]:
    """Read a JSON report the run under test wrote (a fixture, so tests need no imports)."""
    return _load_json
