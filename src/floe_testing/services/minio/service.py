"""The declaration of minio (:data:`SERVICE`): its Service, Secret, config, helper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from floe_testing.services.declaration import ServiceDeclaration


def _from_cluster(host: str, port: int, secret: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {"endpoint": f"http://{host}:{port}"}
    if "MINIO_ROOT_USER" in secret:
        found["access_key"] = secret["MINIO_ROOT_USER"]
    if "MINIO_ROOT_PASSWORD" in secret:
        found["secret_key"] = secret["MINIO_ROOT_PASSWORD"]
    return found


def _address(config: Any) -> tuple[str, int]:
    parts = urlsplit(config.endpoint)
    return parts.hostname or "", parts.port or 9000


SERVICE = ServiceDeclaration(
    name="minio", service="minio", port=9000, extra_ports=(9001,),
    secret="minio-credentials",  # noqa: S106 - a Secret's name, not a password
    credentials={"secret_key": "MINIO_ROOT_PASSWORD"}, values={"access_key": "MINIO_ROOT_USER"},
    client_module="minio", install="pip install 'floe-testing[minio]'",
    env_prefix="MINIO_", endpoint_field="endpoint",
    config="floe_testing.services.minio.config:MinIOConfig",
    opener="floe_testing.services.minio.helper:open_for_test",
    secret_fields=("secret_key",), cluster_fields=("endpoint", "access_key", "secret_key"),
    from_cluster=_from_cluster, address_of=_address,
    exports={"MinIOConfig": "floe_testing.services.minio.config:MinIOConfig",
             "MinIOFixture": "floe_testing.services.minio.helper:MinIOFixture"},
)
