"""floe-testing: plain ``pytest`` brings up a Kubernetes test stack and hands tests clients.

Public names are imported lazily (PEP 562) so that loading the plugin in a run that needs
no service costs almost nothing. The built-in services' names (``PostgresConfig``,
``PostgresFixture``, ...) come from their declarations (``floe_testing.services``); the
``TYPE_CHECKING`` block below repeats them for type checkers, and a test holds it to the
declarations.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AdapterTestBase": "floe_testing.base",
    "CleanupError": "floe_testing.errors",
    "IntegrationTestBase": "floe_testing.base",
    "PluginTestBase": "floe_testing.base",
    "ConfigError": "floe_testing.errors",
    "FloeTestingError": "floe_testing.errors",
    "InfrastructureError": "floe_testing.errors",
    "PollingConfig": "floe_testing.polling",
    "ServiceRequirement": "floe_testing.service_requirement",
    "ConditionFailed": "floe_testing.polling",
    "NotReady": "floe_testing.polling",
    "PollingTimeoutError": "floe_testing.polling",
    "ServiceUnavailableError": "floe_testing.polling",
    "wait_for_condition": "floe_testing.polling",
    "wait_for_service": "floe_testing.polling",
    "ServiceFixture": "floe_testing.service_fixture",
    "check_service_health": "floe_testing.service_fixture",
    "ServiceHealth": "floe_testing.service_fixture",
    "service_health": "floe_testing.service_fixture",
    "ServiceDeclaration": "floe_testing.services.declaration",
    "declare_service": "floe_testing.services.fixtures",
    "ServiceHelper": "floe_testing.services.helper",
    "EndpointConfig": "floe_testing.services.settings",
}


def _service_exports() -> dict[str, str]:
    """``name -> module:attribute`` of every built-in service's public names."""
    from floe_testing.services import builtin_services

    return {name: path for service in builtin_services() for name, path in service.exports.items()}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        return getattr(importlib.import_module(module), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        # a submodule not imported yet (``from floe_testing import traceability``): the import
        # system imports it next; the services' names need not be loaded for that
        raise AttributeError(name)
    path = _service_exports().get(name)
    if path is None:
        raise AttributeError(f"module 'floe_testing' has no attribute {name!r}")
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_service_exports()})


__all__ = [  # noqa: RUF022 - the general names, then the services' (a test checks both)
    "AdapterTestBase", "CleanupError", "ConditionFailed", "ConfigError", "EndpointConfig",
    "FloeTestingError", "InfrastructureError", "IntegrationTestBase", "NotReady",
    "PluginTestBase", "PollingConfig", "PollingTimeoutError", "ServiceDeclaration",
    "ServiceFixture", "ServiceHealth", "ServiceHelper", "ServiceRequirement",
    "ServiceUnavailableError", "check_service_health", "declare_service", "service_health",
    "wait_for_condition", "wait_for_service",
    "DagsterConfig", "DagsterFixture", "DuckDBConfig", "DuckDBFixture", "MinIOConfig",
    "MinIOFixture", "PolarisConfig", "PolarisFixture", "PostgresConfig", "PostgresFixture",
    "run_dagster_job",
]


if TYPE_CHECKING:
    from floe_testing.base import AdapterTestBase, IntegrationTestBase, PluginTestBase
    from floe_testing.errors import (
        CleanupError,
        ConfigError,
        FloeTestingError,
        InfrastructureError,
    )
    from floe_testing.polling import (
        ConditionFailed,
        NotReady,
        PollingConfig,
        PollingTimeoutError,
        ServiceUnavailableError,
        wait_for_condition,
        wait_for_service,
    )
    from floe_testing.service_fixture import (
        ServiceFixture,
        ServiceHealth,
        check_service_health,
        service_health,
    )
    from floe_testing.service_requirement import ServiceRequirement
    from floe_testing.services.dagster.config import DagsterConfig
    from floe_testing.services.dagster.helper import DagsterFixture, run_dagster_job
    from floe_testing.services.declaration import ServiceDeclaration
    from floe_testing.services.duckdb.config import DuckDBConfig
    from floe_testing.services.duckdb.helper import DuckDBFixture
    from floe_testing.services.fixtures import declare_service
    from floe_testing.services.helper import ServiceHelper
    from floe_testing.services.minio.config import MinIOConfig
    from floe_testing.services.minio.helper import MinIOFixture
    from floe_testing.services.polaris.config import PolarisConfig
    from floe_testing.services.polaris.helper import PolarisFixture
    from floe_testing.services.postgres.config import PostgresConfig
    from floe_testing.services.postgres.helper import PostgresFixture
    from floe_testing.services.settings import EndpointConfig
