"""The base of every service config: pydantic settings loaded from env, errors that name the
field and its env variable, secrets as ``SecretStr`` from the first line on; the generic
config of a declared service's address; the clients' timeouts.

Precedence, highest first (the same for every service):

1. arguments passed to the constructor (e.g. in a user's ``*_config`` fixture override);
2. environment variables (``POSTGRES_HOST``, ``MINIO_ENDPOINT``, ...);
3. values discovered from the cluster (forwarded address, credentials from the manifests'
   Secrets), passed through :meth:`ServiceSettings.resolve`;
4. the declaration's defaults.

Imported on first use (pydantic is heavy): never by a run without services.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import (
    AnyHttpUrl,
    Field,
    PrivateAttr,
    SecretStr,
    TypeAdapter,
    ValidationError,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from floe_testing.endpoint import Endpoint
from floe_testing.errors import ConfigError

_URL = TypeAdapter(AnyHttpUrl)


def valid_url(value: str) -> str:
    _URL.validate_python(value)
    return value


class ServiceSettings(BaseSettings):
    """Base for service configs: env loading plus errors that name the field and env var."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=False)
    _reached: Endpoint | None = PrivateAttr(default=None)

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

    @property
    def reached(self) -> Endpoint | None:
        """The endpoint this config's address was obtained from (a forward, the Service's DNS
        name, env), or None for a config built by hand."""
        return self._reached

    def reached_through(self, endpoint: Endpoint) -> Self:
        """This config, remembering where its address came from (set by the directory)."""
        self._reached = endpoint
        return self

    def address_source(self) -> str:
        """Where the address came from, for messages that say what to check."""
        if self._reached is not None:
            return self._reached.via.removeprefix("from ")
        return f"the {type(self).__name__} passed in"

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


class EndpointConfig(ServiceSettings):
    """A declared service's address (``host``, ``port``, ``url``); a service declared with
    credentials gets a subclass with a ``SecretStr`` field per credential
    (:func:`~floe_testing.services.configs.config_class`)."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    scheme: str = Field(default="http", min_length=1)
    path: str = Field(default="")

    @property
    def url(self) -> str:
        """``scheme://host:port/path``."""
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"


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
