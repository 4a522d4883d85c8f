"""The stack tier: the packaged default stack, brought up by the plugin itself on plain
``pytest`` (a kind cluster: real kind with Docker, or localkube's kind stand-in that
``.ci/prepare`` puts on PATH), every service real, used through the real fixtures.

Here no image can be pulled: ``.ci/prepare`` builds a stand-in for each image the packaged
manifests name (``tests/images``) under that exact reference, so the stack runs unchanged. A
missing image fails the first test that needs it with the pod's diagnosis (ErrImagePull);
run ``.ci/prepare`` (or ``python tests/images/build.py``).

It runs in a pytest process of its own (``pytest tests/stack -m stack``, as ``.ci/run`` does):
the plugin's service configs are session-scoped, and in a run with the integration tier they
would already hold that tier's local servers. So the tier is deselected unless ``stack`` is
in the ``-m`` expression, and fails loudly if an endpoint env var is set anyway.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from floe_testing.services import builtin_services

HERE = Path(__file__).resolve().parent


#: runs last: the example suite it runs replaces the stack's Dagster code location
RUNS_LAST = HERE / "test_sharded_runs.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "stack" in (config.option.markexpr or "") and "not stack" not in config.option.markexpr:
        items.sort(key=lambda item: Path(str(item.path)).resolve() == RUNS_LAST)
        return
    mine = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


@pytest.fixture(autouse=True)
def _services_come_from_the_cluster() -> None:
    """Every service must be the cluster's: an endpoint env var would test another server."""
    given = [s.endpoint_env for s in builtin_services() if s.in_cluster and s.endpoint_from_env()]
    if given:
        pytest.fail(f"{', '.join(given)} set: the stack tier tests the cluster's services. Run "
                    "it alone, without them: pytest tests/stack -m stack", pytrace=False)
