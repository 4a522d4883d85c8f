"""Connection settings for each service, loaded from floe's environment variables.

Precedence, highest first (the same for every service):

1. arguments passed to the constructor (e.g. in a user's ``*_config`` fixture override);
2. environment variables (``POSTGRES_HOST``, ``MINIO_ENDPOINT``, ...);
3. values discovered from the cluster (forwarded address, credentials from the manifests'
   Secrets), passed through :meth:`ServiceSettings.resolve`;
4. the data model's defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from floe_testing.errors import ConfigError
from floe_testing.service_spec import DAGSTER, MINIO, POLARIS, POSTGRES

_URL = TypeAdapter(AnyHttpUrl)


def _valid_url(value: str) -> str:
    _URL.validate_python(value)
    return value


class ServiceSettings(BaseSettings):
    """Base for service configs: env loading plus errors that name the field and env var."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=False)

    def __init__(self, **values: Any) -> None:
        # secrets as SecretStr from the first line on: no frame below (pydantic's included)
        # holds them in plain text for a ``--showlocals`` traceback to print
        values = {k: SecretStr(v) if isinstance(v, str) and _is_secret(type(self), k) else v
                  for k, v in values.items()}
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(type(self), exc, explicit=set(values))) from None

    @classmethod
    def env_var(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        prefix = cls.model_config.get("env_prefix", "")
        return f"{prefix}{field}".upper()

    @classmethod
    def resolve(cls, discovered: Mapping[str, Any] | None = None) -> Self:
        """Build from env vars, filling the fields env leaves unset with ``discovered`` values."""
        fill = {
            name: value
            for name, value in (discovered or {}).items()
            if cls.env_var(name) not in os.environ
        }
        return cls(**fill)


def _is_secret(cls: type[ServiceSettings], field: str) -> bool:
    info = cls.model_fields.get(field)
    return info is not None and "SecretStr" in str(info.annotation)


def _describe(cls: type[ServiceSettings], exc: ValidationError, explicit: set[str]) -> str:
    """One line per bad field, naming where its value came from; secret inputs are never shown."""
    lines = [f"Invalid {cls.__name__}:"]
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        info = cls.model_fields.get(field)
        env = cls.env_var(field) if field else ""
        if not field:
            source = "combination of fields"
        elif field in explicit:
            source = f"passed to {cls.__name__}({field}=...)"
        elif env in os.environ:
            source = f"from env {env}"
        else:
            source = f"set env {env} or override the fixture"
        msg = error["msg"]
        raw = os.environ.get(env) if env and field not in explicit else None
        secret = info is not None and info.annotation in (SecretStr, SecretStr | None)
        if raw is not None and not secret:
            msg += f" (got {raw!r})"
            if raw.startswith("tcp://"):
                msg += (
                    "; this looks like a Kubernetes service-link variable: set "
                    "enableServiceLinks: false on the pod or export the real value"
                )
        lines.append(f"  - {field or '(model)'} [{source}]: {msg}")
    return "\n".join(lines)


class PostgresConfig(ServiceSettings):
    """PostgreSQL server the ``postgres_connection`` fixture creates test databases on."""

    model_config = SettingsConfigDict(env_prefix=POSTGRES.env_prefix)

    host: str = Field(default=POSTGRES.dns_name, min_length=1)
    port: int = Field(default=POSTGRES.port, ge=1, le=65535)
    database: str = Field(default="test", min_length=1)
    user: str = Field(default="test", min_length=1)
    password: SecretStr = Field(min_length=1)


class MinIOConfig(ServiceSettings):
    """S3 endpoint (MinIO in the stack) for the ``minio_client`` fixture."""

    model_config = SettingsConfigDict(env_prefix=MINIO.env_prefix)

    endpoint: str = Field(default=f"http://{MINIO.dns_name}:{MINIO.port}")
    access_key: str = Field(default="minioadmin", min_length=1)
    secret_key: SecretStr = Field(min_length=1)
    secure: bool = Field(default=False)
    region: str = Field(default="us-east-1", min_length=1)

    _check_endpoint = field_validator("endpoint")(_valid_url)

    @property
    def netloc(self) -> str:
        """``host:port`` as the minio client wants it (it takes no scheme)."""
        parts = urlsplit(self.endpoint)
        return parts.netloc

    @property
    def use_tls(self) -> bool:
        """TLS when asked for explicitly or implied by an https endpoint."""
        return self.secure or urlsplit(self.endpoint).scheme == "https"


class PolarisConfig(ServiceSettings):
    """Iceberg REST catalog (Polaris in the stack) for the ``polaris_catalog`` fixture."""

    model_config = SettingsConfigDict(env_prefix=POLARIS.env_prefix)

    uri: str = Field(default=f"http://{POLARIS.dns_name}:{POLARIS.port}/api/catalog")
    warehouse: str = Field(default="test_warehouse", min_length=1)
    credential: SecretStr | None = Field(default=None, description="client_id:client_secret")
    scope: str = Field(default="PRINCIPAL_ROLE:ALL", min_length=1)
    realm: str | None = Field(
        default=None, min_length=1,
        description="Polaris realm, sent as header Polaris-Realm on every request (the token "
                    "request too); unset: the server's default realm. From the stack's Secret "
                    "in cluster mode",
    )
    s3_endpoint: str | None = Field(
        default=None,
        description="S3 endpoint this process uses for table data (the catalog's own endpoint "
                    "may be cluster-internal); set from the MinIO forward in cluster mode",
    )

    _check_uri = field_validator("uri")(_valid_url)


class DuckDBConfig(ServiceSettings):
    """Where the ``duckdb_connection`` fixture opens its database."""

    model_config = SettingsConfigDict(env_prefix="DUCKDB_")

    database: str = Field(default=":memory:", min_length=1)
    read_only: bool = Field(default=False)

    @field_validator("read_only")
    @classmethod
    def _read_only_needs_file(cls, value: bool, info: ValidationInfo) -> bool:
        # A field (not model) validator, so the error names read_only and DUCKDB_READ_ONLY.
        if value and info.data.get("database") == ":memory:":
            raise ValueError(
                "read_only=True needs a database file: an in-memory database cannot be "
                "opened read-only (set DUCKDB_DATABASE to a path)"
            )
        return value


class DagsterConfig(ServiceSettings):
    """Dagster webserver the ``dagster_client`` fixture talks GraphQL to."""

    model_config = SettingsConfigDict(env_prefix=DAGSTER.env_prefix)

    host: str = Field(default=DAGSTER.dns_name, min_length=1)
    port: int = Field(default=DAGSTER.port, ge=1, le=65535)


class ClientTimeouts(ServiceSettings):
    """Bounds on every network call of the clients the fixtures build, so a server that accepts
    connections and never answers fails the test instead of hanging the session. One pair for
    all services (env ``FLOE_CONNECT_TIMEOUT``, ``FLOE_READ_TIMEOUT``)."""

    model_config = SettingsConfigDict(env_prefix="FLOE_", extra="ignore")

    connect_timeout: float = Field(default=5.0, gt=0, le=300,
                                   description="seconds to establish a connection")
    read_timeout: float = Field(default=10.0, gt=0, le=3600,
                                description="seconds to wait for each answer")

    def describe(self) -> str:
        """For messages: the bounds and how to change them."""
        return (f"connect timeout {self.connect_timeout:g}s, read timeout "
                f"{self.read_timeout:g}s (FLOE_CONNECT_TIMEOUT, FLOE_READ_TIMEOUT)")
