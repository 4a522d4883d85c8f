"""floe-testing: plain ``pytest`` brings up a Kubernetes test stack and hands tests clients.

Public names are imported lazily (PEP 562) so that loading the plugin in a run that needs
no service costs almost nothing.
"""

from __future__ import annotations

import importlib
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
    "DagsterConfig": "floe_testing.service_configs",
    "DuckDBConfig": "floe_testing.service_configs",
    "MinIOConfig": "floe_testing.service_configs",
    "PolarisConfig": "floe_testing.service_configs",
    "PostgresConfig": "floe_testing.service_configs",
    "run_dagster_job": "floe_testing.fixtures.dagster",
    "DagsterFixture": "floe_testing.fixtures.dagster",
    "DuckDBFixture": "floe_testing.fixtures.duckdb",
    "MinIOFixture": "floe_testing.fixtures.minio",
    "PolarisFixture": "floe_testing.fixtures.polaris",
    "PostgresFixture": "floe_testing.fixtures.postgres",
    "ServiceFixture": "floe_testing.service_fixture",
    "check_service_health": "floe_testing.service_fixture",
}

__all__ = [
    "AdapterTestBase",
    "CleanupError",
    "ConditionFailed",
    "ConfigError",
    "DagsterConfig",
    "DagsterFixture",
    "DuckDBConfig",
    "DuckDBFixture",
    "FloeTestingError",
    "InfrastructureError",
    "IntegrationTestBase",
    "MinIOConfig",
    "MinIOFixture",
    "NotReady",
    "PluginTestBase",
    "PolarisConfig",
    "PolarisFixture",
    "PollingConfig",
    "PollingTimeoutError",
    "PostgresConfig",
    "PostgresFixture",
    "ServiceFixture",
    "ServiceRequirement",
    "ServiceUnavailableError",
    "check_service_health",
    "run_dagster_job",
    "wait_for_condition",
    "wait_for_service",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'floe_testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from floe_testing.base import AdapterTestBase, IntegrationTestBase, PluginTestBase
    from floe_testing.errors import (
        CleanupError,
        ConfigError,
        FloeTestingError,
        InfrastructureError,
    )
    from floe_testing.fixtures.dagster import DagsterFixture, run_dagster_job
    from floe_testing.fixtures.duckdb import DuckDBFixture
    from floe_testing.fixtures.minio import MinIOFixture
    from floe_testing.fixtures.polaris import PolarisFixture
    from floe_testing.fixtures.postgres import PostgresFixture
    from floe_testing.polling import (
        ConditionFailed,
        NotReady,
        PollingConfig,
        PollingTimeoutError,
        ServiceUnavailableError,
        wait_for_condition,
        wait_for_service,
    )
    from floe_testing.service_configs import (
        DagsterConfig,
        DuckDBConfig,
        MinIOConfig,
        PolarisConfig,
        PostgresConfig,
    )
    from floe_testing.service_fixture import ServiceFixture, check_service_health
    from floe_testing.service_requirement import ServiceRequirement
