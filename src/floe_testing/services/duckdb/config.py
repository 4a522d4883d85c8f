"""``DuckDBConfig``: where ``duckdb_connection`` opens its database, and how."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from floe_testing.services.duckdb.service import SERVICE
from floe_testing.services.settings import ServiceSettings


class DuckDBConfig(ServiceSettings):
    """Where the ``duckdb_connection`` fixture opens its database."""

    model_config = SettingsConfigDict(env_prefix=SERVICE.prefix)

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
