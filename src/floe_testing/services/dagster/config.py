"""``DagsterConfig``: the Dagster webserver ``dagster_client`` talks GraphQL to."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from floe_testing.services.dagster.service import SERVICE
from floe_testing.services.settings import ServiceSettings


class DagsterConfig(ServiceSettings):
    """Dagster webserver the ``dagster_client`` fixture talks GraphQL to."""

    model_config = SettingsConfigDict(env_prefix=SERVICE.prefix)

    host: str = Field(default=SERVICE.dns_name, min_length=1)
    port: int = Field(default=SERVICE.port, ge=1, le=65535)
