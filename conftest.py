"""Project-wide test configuration: each tier directory gets its marker, so CI and people can
select tiers explicitly (``-m unit``, ``-m integration``, ``-m cluster``) instead of skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

_TIERS = {"unit": "unit", "traceability": "unit", "manifests": "unit",
          "integration": "integration", "cluster": "cluster", "stack": "stack"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent / "tests"
    for item in items:
        try:
            tier_dir = item.path.relative_to(tests).parts[0]
        except ValueError:
            continue
        if tier_dir in _TIERS:
            item.add_marker(_TIERS[tier_dir])
