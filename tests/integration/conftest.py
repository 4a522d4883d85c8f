"""Integration tier: real local servers, handed to the plugin exactly as a user would.

Each server is a session fixture, started only when a selected test needs it and stopped at
the end of the session (also on failure or Ctrl-C: pytest tears session fixtures down, and an
``atexit`` hook catches what an abrupt exit skips). It exports the env vars naming its
endpoint and credentials, and the plugin's own ``*_config`` fixtures are wrapped so they
resolve after that: the plugin runs in env mode, where no cluster may be created (a guard
turns any attempt into an error instead of a cluster provisioning).
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from floe_testing.cluster.run import CLUSTER_SESSION
from floe_testing.services.dagster.config import DagsterConfig
from floe_testing.services.duckdb.config import DuckDBConfig
from floe_testing.services.minio.config import MinIOConfig
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.postgres.config import PostgresConfig
from support.checks import AfterTeardown
from support.dagster_server import LocalDagster
from support.iceberg_rest import IcebergRestServer
from support.postgres_server import LocalPostgres, PostgresSetupError
from support.s3_server import LocalS3


class Server(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@contextlib.contextmanager
def running(server: Server, what: str) -> Iterator[None]:
    """Start ``server``; stop it on exit, however the session ends."""
    atexit.register(server.stop)  # an abrupt exit that skips fixture teardown
    try:
        try:
            server.start()
        except PostgresSetupError as exc:  # the message says what to install; no traceback
            raise pytest.fail.Exception(f"{what} could not be started: {exc}",
                                        pytrace=False) from None
        yield
    finally:
        try:
            server.stop()
        finally:
            atexit.unregister(server.stop)


class ClusterGuard:
    """Stands in for the run's cluster session and records (and refuses) every use of it:
    the integration tier sets the env vars naming every endpoint, so no cluster may be used."""

    def __init__(self) -> None:
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        self.attempts += 1
        raise RuntimeError(
            f"the integration tier sets the env vars naming every endpoint, so no cluster may "
            f"be used; something asked the plugin's cluster session for {name!r}")

    def close(self) -> None:
        """Nothing to release."""

    def diagnosis_sections(self, requirements: object) -> list[tuple[str, str]]:
        return []


@pytest.fixture(scope="session", autouse=True)
def cluster_guard(pytestconfig: pytest.Config) -> Iterator[ClusterGuard]:
    """The run's cluster session is the guard: using it fails loudly instead of provisioning
    a cluster (env mode forbids it)."""
    guard = ClusterGuard()
    assert CLUSTER_SESSION not in pytestconfig.stash, "a cluster session exists already"
    pytestconfig.stash[CLUSTER_SESSION] = guard  # type: ignore[assignment]
    try:
        yield guard
    finally:
        del pytestconfig.stash[CLUSTER_SESSION]


@pytest.fixture(autouse=True)
def after_teardown() -> Iterator[AfterTeardown]:
    """Checks to run once the test's other function fixtures have cleaned up (see checks)."""
    checks = AfterTeardown()
    yield checks
    checks.run()


# -- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL 15; exports POSTGRES_* for the role ``test`` (password-checked)."""
    server = LocalPostgres()
    with running(server, "PostgreSQL"), pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSTGRES_HOST", server.host)
        mp.setenv("POSTGRES_PORT", str(server.port))
        mp.setenv("POSTGRES_USER", server.user)
        mp.setenv("POSTGRES_PASSWORD", server.password)
        mp.setenv("POSTGRES_DATABASE", server.database)
        yield server


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    """An S3 endpoint (moto); exports MINIO_*."""
    server = LocalS3()
    with running(server, "S3 (moto)"), pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINIO_ENDPOINT", server.endpoint)
        mp.setenv("MINIO_ACCESS_KEY", server.access_key)
        mp.setenv("MINIO_SECRET_KEY", server.secret_key)
        mp.setenv("MINIO_SECURE", "false")
        mp.setenv("MINIO_REGION", "us-east-1")
        yield server


@pytest.fixture(scope="session")
def local_iceberg() -> Iterator[IcebergRestServer]:
    """The Iceberg REST catalog double, Polaris-style URI; exports POLARIS_*."""
    server = IcebergRestServer()
    with running(server, "Iceberg REST catalog"), pytest.MonkeyPatch.context() as mp:
        mp.setenv("POLARIS_URI", server.uri)
        mp.setenv("POLARIS_WAREHOUSE", server.warehouse)
        mp.setenv("POLARIS_CREDENTIAL", server.credential)
        mp.setenv("POLARIS_SCOPE", "PRINCIPAL_ROLE:ALL")
        yield server


@pytest.fixture(scope="session")
def local_dagster() -> Iterator[LocalDagster]:
    """A real dagster-webserver with the tier's jobs; exports DAGSTER_HOST/PORT."""
    server = LocalDagster()
    with running(server, "dagster-webserver"), pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOST", server.host)
        mp.setenv("DAGSTER_PORT", str(server.port))
        yield server


@pytest.fixture(scope="session")
def duckdb_env() -> Iterator[None]:
    """No DUCKDB_* from the caller's shell: the default (in-memory) config is what is tested."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DUCKDB_DATABASE", raising=False)
        mp.delenv("DUCKDB_READ_ONLY", raising=False)
        yield


# -- the plugin's config fixtures, resolved after the env vars are set ------------------------
# Each wraps the plugin's fixture of the same name (a conftest override may request the fixture
# it overrides): the server fixture runs first, then the plugin resolves from env as for a user.


@pytest.fixture(scope="session")
def postgres_config(
    local_postgres: LocalPostgres, postgres_config: PostgresConfig
) -> PostgresConfig:
    return postgres_config


@pytest.fixture(scope="session")
def minio_config(local_s3: LocalS3, minio_config: MinIOConfig) -> MinIOConfig:
    return minio_config


@pytest.fixture(scope="session")
def polaris_config(
    local_iceberg: IcebergRestServer, polaris_config: PolarisConfig
) -> PolarisConfig:
    return polaris_config


@pytest.fixture(scope="session")
def dagster_config(local_dagster: LocalDagster, dagster_config: DagsterConfig) -> DagsterConfig:
    return dagster_config


@pytest.fixture(scope="session")
def duckdb_config(duckdb_env: None, duckdb_config: DuckDBConfig) -> DuckDBConfig:
    return duckdb_config
