"""001-FR-025: configs come from the env vars a user sets, and env mode creates no cluster."""

from __future__ import annotations

import duckdb
import pytest
from dagster_graphql import DagsterGraphQLClient
from psycopg2.extensions import connection
from pyiceberg.catalog.rest import RestCatalog

from floe_testing.cluster.run import CLUSTER_SESSION
from floe_testing.service_directory import SERVICE_DIRECTORY, active_directory
from floe_testing.services import builtin_services
from floe_testing.services.dagster.config import DagsterConfig
from floe_testing.services.minio.config import MinIOConfig
from floe_testing.services.minio.tracking import TrackingMinio
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.postgres.config import PostgresConfig
from support.dagster_server import LocalDagster
from support.iceberg_rest import IcebergRestServer
from support.postgres_server import LocalPostgres
from support.s3_server import LocalS3

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-025")]


def test_configs_hold_the_env_values(
    postgres_config: PostgresConfig,
    minio_config: MinIOConfig,
    polaris_config: PolarisConfig,
    dagster_config: DagsterConfig,
    local_postgres: LocalPostgres,
    local_s3: LocalS3,
    local_iceberg: IcebergRestServer,
    local_dagster: LocalDagster,
) -> None:
    assert (postgres_config.host, postgres_config.port) == (local_postgres.host,
                                                            local_postgres.port)
    assert (postgres_config.user, postgres_config.database) == ("test", "test")
    assert postgres_config.password.get_secret_value() == local_postgres.password
    assert minio_config.netloc == f"{local_s3.host}:{local_s3.port}"
    assert not minio_config.use_tls
    assert polaris_config.uri == local_iceberg.uri
    assert polaris_config.scope == "PRINCIPAL_ROLE:ALL"
    assert (dagster_config.host, dagster_config.port) == (local_dagster.host, local_dagster.port)


@pytest.mark.requirement("001-FR-026")
def test_secrets_stay_hidden_in_reprs(
    postgres_config: PostgresConfig, minio_config: MinIOConfig, polaris_config: PolarisConfig,
    local_postgres: LocalPostgres, local_s3: LocalS3, local_iceberg: IcebergRestServer,
) -> None:
    shown = " ".join(repr(c) + str(c) for c in (postgres_config, minio_config, polaris_config))
    for secret in (local_postgres.password, local_s3.secret_key, local_iceberg.client_secret):
        assert secret not in shown


def test_the_directory_answers_with_the_env_endpoints(
    postgres_config: PostgresConfig, minio_config: MinIOConfig, polaris_config: PolarisConfig,
    dagster_config: DagsterConfig, request: pytest.FixtureRequest,
) -> None:
    """With the endpoint variables set, the run's directory answers with them (for
    wait_for_service and the base classes) and says where the address came from."""
    directory = request.config.stash[SERVICE_DIRECTORY]
    assert active_directory() is directory
    configs = {"postgres": postgres_config, "minio": minio_config,
               "polaris": polaris_config, "dagster": dagster_config}
    for service in builtin_services():
        if not service.in_cluster:
            continue
        config = configs[service.name]
        endpoint = directory.address(service.service, service.port, service.namespace)
        assert (endpoint.host, endpoint.port) == service.address(config), service.name
        assert endpoint.via == f"from env {service.endpoint_env}"
        assert config.address_source() == f"env {service.endpoint_env}"
        assert not config.reached.forwarded


def test_no_cluster_is_created_in_env_mode(
    request: pytest.FixtureRequest,
    postgres_connection: connection,
    minio_client: TrackingMinio,
    minio_bucket: str,
    polaris_catalog: RestCatalog,
    polaris_namespace: str,
    duckdb_connection: duckdb.DuckDBPyConnection,
    dagster_client: DagsterGraphQLClient,
) -> None:
    """Every client fixture is in use, and the plugin's cluster session never existed."""
    guard = request.getfixturevalue("cluster_guard")
    assert request.config.stash[CLUSTER_SESSION] is guard, "a cluster session was created"
    assert guard.attempts == 0, "something asked the plugin for a cluster"
