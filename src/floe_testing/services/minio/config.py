"""``MinIOConfig``: the S3 endpoint (MinIO in the stack) of ``minio_client``."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from floe_testing.services.minio.service import SERVICE
from floe_testing.services.settings import ServiceSettings, valid_url

_REGION = re.compile(r"(?!_)(?!-)[a-z_\d-]{1,63}(?<!-)(?<!_)", re.IGNORECASE)


class MinIOConfig(ServiceSettings):
    """S3 endpoint (MinIO in the stack) for the ``minio_client`` fixture."""

    model_config = SettingsConfigDict(env_prefix=SERVICE.prefix)

    endpoint: str = Field(default=f"http://{SERVICE.dns_name}:{SERVICE.port}")
    access_key: str = Field(default="minioadmin", min_length=1)
    secret_key: SecretStr = Field(min_length=1)
    secure: bool = Field(default=False)
    region: str = Field(default="us-east-1", min_length=1)

    _check_endpoint = field_validator("endpoint")(valid_url)

    @field_validator("region")
    @classmethod
    def _region_is_a_name(cls, value: str) -> str:
        # as the minio client checks it, but here: where the value came from is named
        if not _REGION.fullmatch(value):
            raise ValueError("an S3 region is letters, digits, '-' and '_' (e.g. us-east-1)")
        return value

    @property
    def netloc(self) -> str:
        """``host:port`` as the minio client wants it (it takes no scheme)."""
        parts = urlsplit(self.endpoint)
        return parts.netloc

    @property
    def use_tls(self) -> bool:
        """TLS when asked for explicitly or implied by an https endpoint."""
        return self.secure or urlsplit(self.endpoint).scheme == "https"
