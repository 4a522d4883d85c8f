"""``PostgresConfig``: the PostgreSQL server ``postgres_connection`` makes test databases on."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from floe_testing.services.postgres.service import SERVICE
from floe_testing.services.settings import ServiceSettings


class PostgresConfig(ServiceSettings):
    """PostgreSQL server the ``postgres_connection`` fixture creates test databases on."""

    model_config = SettingsConfigDict(env_prefix=SERVICE.prefix)

    host: str = Field(default=SERVICE.dns_name, min_length=1)
    port: int = Field(default=SERVICE.port, ge=1, le=65535)
    database: str = Field(default="test", min_length=1)
    user: str = Field(default="test", min_length=1)
    password: SecretStr = Field(min_length=1)
