"""Polaris (any Iceberg REST catalog), declared: the Service ``polaris:8181`` of the stack
(management 8182), its Secret ``polaris-credentials``; ``polaris_config``, ``polaris_catalog``
(with a namespace that lives for one test) and ``polaris_namespace``. Table data goes through
MinIO, whose address this process reaches is ``s3_endpoint``. The config is :mod:`.config`,
the helper :mod:`.helper`."""

from __future__ import annotations

from typing import Any

import pytest

from floe_testing.services.fixtures import service_fixtures
from floe_testing.services.polaris.service import NAMESPACE_KEY, SERVICE

polaris_config, polaris_catalog = service_fixtures(SERVICE)


@pytest.fixture(scope="session")
def _floe_polaris_sweep(polaris_config: Any, pytestconfig: pytest.Config) -> None:
    """Once per session: drop test namespaces whose creating process is gone."""
    from floe_testing.services.polaris.helper import sweep_dead_namespaces

    sweep_dead_namespaces(polaris_config, pytestconfig)


@pytest.fixture
def polaris_namespace(polaris_catalog: Any, request: pytest.FixtureRequest) -> str:
    """The name of the namespace ``polaris_catalog`` created for this test."""
    namespace: str = request.node.stash[NAMESPACE_KEY]
    return namespace
