"""floe-testing: plain ``pytest`` brings up a Kubernetes test stack and hands tests clients.

Public names are imported lazily (PEP 562) so that loading the plugin in a run that needs
no service costs almost nothing. ``__all__`` is derived too: the general names below and the
built-in services' names (``PostgresConfig``, ``PostgresFixture``, ...) from their
declarations (``floe_testing.services``). Type checkers cannot run that code: the
``TYPE_CHECKING`` block re-exports the same names for them, and a test holds it to the
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


def _public_names() -> list[str]:
    """``__all__``: the general names, then the built-in services'."""
    return [*sorted(_EXPORTS), *sorted(_service_exports())]


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return _public_names()
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
    return sorted({*globals(), *_public_names()})


if TYPE_CHECKING:
    from floe_testing.base import AdapterTestBase as AdapterTestBase
    from floe_testing.base import IntegrationTestBase as IntegrationTestBase
    from floe_testing.base import PluginTestBase as PluginTestBase
    from floe_testing.errors import CleanupError as CleanupError
    from floe_testing.errors import ConfigError as ConfigError
    from floe_testing.errors import FloeTestingError as FloeTestingError
    from floe_testing.errors import InfrastructureError as InfrastructureError
    from floe_testing.polling import ConditionFailed as ConditionFailed
    from floe_testing.polling import NotReady as NotReady
    from floe_testing.polling import PollingConfig as PollingConfig
    from floe_testing.polling import PollingTimeoutError as PollingTimeoutError
    from floe_testing.polling import ServiceUnavailableError as ServiceUnavailableError
    from floe_testing.polling import wait_for_condition as wait_for_condition
    from floe_testing.polling import wait_for_service as wait_for_service
    from floe_testing.service_fixture import ServiceFixture as ServiceFixture
    from floe_testing.service_fixture import ServiceHealth as ServiceHealth
    from floe_testing.service_fixture import check_service_health as check_service_health
    from floe_testing.service_fixture import service_health as service_health
    from floe_testing.service_requirement import ServiceRequirement as ServiceRequirement
    from floe_testing.services.dagster.config import DagsterConfig as DagsterConfig
    from floe_testing.services.dagster.helper import DagsterFixture as DagsterFixture
    from floe_testing.services.dagster.helper import run_dagster_job as run_dagster_job
    from floe_testing.services.declaration import ServiceDeclaration as ServiceDeclaration
    from floe_testing.services.duckdb.config import DuckDBConfig as DuckDBConfig
    from floe_testing.services.duckdb.helper import DuckDBFixture as DuckDBFixture
    from floe_testing.services.fixtures import declare_service as declare_service
    from floe_testing.services.helper import ServiceHelper as ServiceHelper
    from floe_testing.services.minio.config import MinIOConfig as MinIOConfig
    from floe_testing.services.minio.helper import MinIOFixture as MinIOFixture
    from floe_testing.services.polaris.config import PolarisConfig as PolarisConfig
    from floe_testing.services.polaris.helper import PolarisFixture as PolarisFixture
    from floe_testing.services.postgres.config import PostgresConfig as PostgresConfig
    from floe_testing.services.postgres.helper import PostgresFixture as PostgresFixture
    from floe_testing.services.settings import EndpointConfig as EndpointConfig
