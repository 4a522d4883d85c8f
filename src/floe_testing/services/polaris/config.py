"""``PolarisConfig``: the Iceberg REST catalog (Polaris in the stack) of ``polaris_catalog``."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from floe_testing.services.polaris.service import SERVICE
from floe_testing.services.settings import ServiceSettings, valid_url


class PolarisConfig(ServiceSettings):
    """Iceberg REST catalog (Polaris in the stack) for the ``polaris_catalog`` fixture."""

    model_config = SettingsConfigDict(env_prefix=SERVICE.prefix)

    uri: str = Field(default=f"http://{SERVICE.dns_name}:{SERVICE.port}/api/catalog")
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

    _check_uri = field_validator("uri")(valid_url)
