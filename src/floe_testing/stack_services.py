"""The services of the default stack: the one place that ties a fixture to a Kubernetes Service.

Each entry names the Service and port the manifests expose, the Secret holding its
credentials, and how a reachable address plus that Secret become the fixture's config values.
The manifests own the credential values; nothing here repeats them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from floe_testing.service_configs import ServiceSettings

#: Kept here as a plain string so this module does not import pydantic (plugin load time).
DEFAULT_NAMESPACE = "floe-test"

Settings = dict[str, Any]


def _url_address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or default_port


@dataclass(frozen=True)
class StackService:
    """A service of the stack as the cluster names it and the fixtures consume it."""

    key: str
    name: str
    port: int
    config_name: str
    endpoint_env: str
    settings: Callable[[str, int, Mapping[str, str]], Settings]
    address_of: Callable[[Any], tuple[str, int]]
    secret_name: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    extra_ports: tuple[int, ...] = field(default=())
    #: config fields that take another stack service's reachable address (``field -> key``)
    endpoint_of: Mapping[str, str] = field(default_factory=dict)
    #: config fields the cluster provides (address and credentials): set by env only together
    #: with ``endpoint_env``, else a server of the user's would be mixed into the cluster's
    cluster_fields: tuple[str, ...] = ()

    @property
    def config_class(self) -> type[ServiceSettings]:
        """The config model (imported on first use: pydantic is not needed to plan a run)."""
        module = importlib.import_module("floe_testing.service_configs")
        cls: type[ServiceSettings] = getattr(module, self.config_name)
        return cls

    def endpoint_from_env(self) -> bool:
        """True when the env var naming this service's endpoint is set."""
        return bool(os.environ.get(self.endpoint_env))


def _postgres(host: str, port: int, secret: Mapping[str, str]) -> Settings:
    found: Settings = {"host": host, "port": port}
    for key, name in (("POSTGRES_USER", "user"), ("POSTGRES_PASSWORD", "password"),
                      ("POSTGRES_DB", "database")):
        if key in secret:
            found[name] = secret[key]
    return found


def _minio(host: str, port: int, secret: Mapping[str, str]) -> Settings:
    found: Settings = {"endpoint": f"http://{host}:{port}"}
    if "MINIO_ROOT_USER" in secret:
        found["access_key"] = secret["MINIO_ROOT_USER"]
    if "MINIO_ROOT_PASSWORD" in secret:
        found["secret_key"] = secret["MINIO_ROOT_PASSWORD"]
    return found


def _polaris(host: str, port: int, secret: Mapping[str, str]) -> Settings:
    found: Settings = {"uri": f"http://{host}:{port}/api/catalog"}
    if "POLARIS_CLIENT_ID" in secret and "POLARIS_CLIENT_SECRET" in secret:
        found["credential"] = f"{secret['POLARIS_CLIENT_ID']}:{secret['POLARIS_CLIENT_SECRET']}"
    if "POLARIS_WAREHOUSE" in secret:
        found["warehouse"] = secret["POLARIS_WAREHOUSE"]
    return found


def _dagster(host: str, port: int, secret: Mapping[str, str]) -> Settings:
    return {"host": host, "port": port}


POSTGRES = StackService(
    key="postgres", name="postgres", port=5432, config_name="PostgresConfig",
    endpoint_env="POSTGRES_HOST", settings=_postgres, address_of=lambda c: (c.host, c.port),
    secret_name="postgres-credentials",  # noqa: S106 - a Secret's name, not a password
    cluster_fields=("host", "port", "user", "password", "database"),
)
MINIO = StackService(
    key="minio", name="minio", port=9000, config_name="MinIOConfig",
    endpoint_env="MINIO_ENDPOINT", settings=_minio,
    address_of=lambda c: _url_address(c.endpoint, 9000),
    secret_name="minio-credentials",  # noqa: S106 - a Secret's name, not a password
    extra_ports=(9001,), cluster_fields=("endpoint", "access_key", "secret_key"),
)
POLARIS = StackService(
    key="polaris", name="polaris", port=8181, config_name="PolarisConfig",
    endpoint_env="POLARIS_URI", settings=_polaris,
    address_of=lambda c: _url_address(c.uri, 8181),
    secret_name="polaris-credentials",  # noqa: S106 - a Secret's name, not a password
    extra_ports=(8182,), endpoint_of={"s3_endpoint": "minio"},
    cluster_fields=("uri", "credential", "warehouse"),
)
DAGSTER = StackService(
    key="dagster", name="dagster-webserver", port=3000, config_name="DagsterConfig",
    endpoint_env="DAGSTER_HOST", settings=_dagster, address_of=lambda c: (c.host, c.port),
    cluster_fields=("host", "port"),
)

STACK_SERVICES: dict[str, StackService] = {s.key: s for s in (POSTGRES, MINIO, POLARIS, DAGSTER)}
