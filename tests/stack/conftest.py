"""The stack tier: the full default stack (manifests/) on a machine with Docker and internet.

These tests run only when selected with ``-m stack`` (see .github/workflows/stack.yml): they
create a kind cluster and pull every image of the stack, which a default run must never do.
Without ``stack`` in the ``-m`` expression they are deselected here, so even an explicit
``pytest tests/stack`` does nothing heavy by accident.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "stack" in (config.option.markexpr or ""):
        return
    mine = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]
