"""The services of the default stack, each declared once: the one place that ties a fixture to a
Kubernetes Service.

A :class:`ServiceSpec` names the Kubernetes Service, port and namespace the manifests expose,
the Secret holding its credentials, the env prefix of its config, and how a reachable address
plus that Secret become the config's values. Everything else is derived from it: the configs'
defaults (the Service's DNS name and port) and env var names, the endpoint variable that means
"use my server, not the cluster's", the manifest component (the file defining the Service) and
the client extra. The manifests own the credential values; nothing here repeats them.

Kept free of pydantic and client imports: the plugin plans a run from it at collection time.
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

#: The Kubernetes namespace of the packaged stack (not a SQL or Iceberg namespace).
DEFAULT_K8S_NAMESPACE = "floe-test"

ConfigValues = dict[str, Any]


def _url_address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or default_port


@dataclass(frozen=True)
class ServiceSpec:
    """A service of the stack as the cluster names it and the fixtures consume it."""

    #: short name: the extra (``floe-testing[postgres]``) and fixture prefix (``postgres_*``)
    key: str
    #: the Kubernetes Service and its port
    service_name: str
    port: int
    config_name: str
    #: env prefix of the config (``POSTGRES_``) and the field whose variable names the endpoint
    env_prefix: str
    endpoint_field: str
    #: Secret values + reachable address -> config values
    from_cluster: Callable[[str, int, Mapping[str, str]], ConfigValues]
    #: a config -> the (host, port) it connects to
    address_of: Callable[[Any], tuple[str, int]]
    secret_name: str | None = None
    k8s_namespace: str = DEFAULT_K8S_NAMESPACE
    extra_ports: tuple[int, ...] = field(default=())
    #: config fields that take another stack service's reachable address (``field -> key``)
    endpoint_of: Mapping[str, str] = field(default_factory=dict)
    #: config fields the cluster provides (address and credentials): set by env only together
    #: with the endpoint variable, else a server of the user's would be mixed into the cluster's
    cluster_fields: tuple[str, ...] = ()
    #: the config's secret fields (``SecretStr``; a test checks they agree), whose env vars are
    #: masked in every report from the run's first line on, without importing pydantic
    secret_fields: tuple[str, ...] = ()

    @property
    def secret_env_vars(self) -> tuple[str, ...]:
        """The env vars that hold this service's secrets (``POSTGRES_PASSWORD``, ...)."""
        return tuple(f"{self.env_prefix}{f}".upper() for f in self.secret_fields)

    @property
    def endpoint_env(self) -> str:
        """The env var whose presence means "this service is mine, not the cluster's"."""
        return f"{self.env_prefix}{self.endpoint_field}".upper()

    @property
    def dns_name(self) -> str:
        """The Service's cluster-internal DNS name (the configs' default host)."""
        return f"{self.service_name}.{self.k8s_namespace}.svc.cluster.local"

    @property
    def config_class(self) -> type[ServiceSettings]:
        """The config model (imported on first use: pydantic is not needed to plan a run)."""
        module = importlib.import_module("floe_testing.service_configs")
        cls: type[ServiceSettings] = getattr(module, self.config_name)
        return cls

    def endpoint_from_env(self) -> bool:
        """True when the env var naming this service's endpoint is set."""
        return bool(os.environ.get(self.endpoint_env))


def _postgres(host: str, port: int, secret: Mapping[str, str]) -> ConfigValues:
    found: ConfigValues = {"host": host, "port": port}
    for key, name in (("POSTGRES_USER", "user"), ("POSTGRES_PASSWORD", "password"),
                      ("POSTGRES_DB", "database")):
        if key in secret:
            found[name] = secret[key]
    return found


def _minio(host: str, port: int, secret: Mapping[str, str]) -> ConfigValues:
    found: ConfigValues = {"endpoint": f"http://{host}:{port}"}
    if "MINIO_ROOT_USER" in secret:
        found["access_key"] = secret["MINIO_ROOT_USER"]
    if "MINIO_ROOT_PASSWORD" in secret:
        found["secret_key"] = secret["MINIO_ROOT_PASSWORD"]
    return found


def _polaris(host: str, port: int, secret: Mapping[str, str]) -> ConfigValues:
    found: ConfigValues = {"uri": f"http://{host}:{port}/api/catalog"}
    if "POLARIS_CLIENT_ID" in secret and "POLARIS_CLIENT_SECRET" in secret:
        found["credential"] = f"{secret['POLARIS_CLIENT_ID']}:{secret['POLARIS_CLIENT_SECRET']}"
    if "POLARIS_WAREHOUSE" in secret:
        found["warehouse"] = secret["POLARIS_WAREHOUSE"]
    if "POLARIS_REALM" in secret:
        found["realm"] = secret["POLARIS_REALM"]
    return found


def _dagster(host: str, port: int, secret: Mapping[str, str]) -> ConfigValues:
    return {"host": host, "port": port}


POSTGRES = ServiceSpec(
    key="postgres", service_name="postgres", port=5432, config_name="PostgresConfig",
    env_prefix="POSTGRES_", endpoint_field="host", from_cluster=_postgres,
    address_of=lambda c: (c.host, c.port),
    secret_name="postgres-credentials",  # noqa: S106 - a Secret's name, not a password
    cluster_fields=("host", "port", "user", "password", "database"),
    secret_fields=("password",),
)
MINIO = ServiceSpec(
    key="minio", service_name="minio", port=9000, config_name="MinIOConfig",
    env_prefix="MINIO_", endpoint_field="endpoint", from_cluster=_minio,
    address_of=lambda c: _url_address(c.endpoint, 9000),
    secret_name="minio-credentials",  # noqa: S106 - a Secret's name, not a password
    extra_ports=(9001,), cluster_fields=("endpoint", "access_key", "secret_key"),
    secret_fields=("secret_key",),
)
POLARIS = ServiceSpec(
    key="polaris", service_name="polaris", port=8181, config_name="PolarisConfig",
    env_prefix="POLARIS_", endpoint_field="uri", from_cluster=_polaris,
    address_of=lambda c: _url_address(c.uri, 8181),
    secret_name="polaris-credentials",  # noqa: S106 - a Secret's name, not a password
    extra_ports=(8182,), endpoint_of={"s3_endpoint": "minio"},
    cluster_fields=("uri", "credential", "warehouse", "realm"), secret_fields=("credential",),
)
DAGSTER = ServiceSpec(
    key="dagster", service_name="dagster-webserver", port=3000, config_name="DagsterConfig",
    env_prefix="DAGSTER_", endpoint_field="host", from_cluster=_dagster,
    address_of=lambda c: (c.host, c.port), cluster_fields=("host", "port"),
)

SERVICE_SPECS: dict[str, ServiceSpec] = {s.key: s for s in (POSTGRES, MINIO, POLARIS, DAGSTER)}
