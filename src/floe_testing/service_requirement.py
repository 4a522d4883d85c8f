"""``ServiceRequirement``: a service a test needs, named as the cluster names it (the data
model's entity, used by ``IntegrationTestBase``, the run's planning and the cluster session)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from floe_testing.endpoint import DEFAULT_K8S_NAMESPACE
from floe_testing.naming import is_dns_label


def validate_dns1123_label(value: str) -> str:
    """Reject names Kubernetes would reject, before any API call is made."""
    if not is_dns_label(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: at most 63 characters of lowercase a-z, 0-9 "
            "and '-', starting and ending with a letter or digit"
        )
    return value


class ServiceRequirement(BaseModel):
    """A service an integration test needs, as the cluster names it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(..., min_length=1, description="Service name (e.g. 'postgres')")
    port: int = Field(..., ge=1, le=65535, description="Service port")
    namespace: str = Field(default=DEFAULT_K8S_NAMESPACE, description="K8s namespace")

    @field_validator("namespace")
    @classmethod
    def _namespace_is_label(cls, value: str) -> str:
        return validate_dns1123_label(value)
