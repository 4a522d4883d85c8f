"""The declaration of polaris (:data:`SERVICE`): its Service, Secret, config, helper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest

from floe_testing.services.declaration import ServiceDeclaration

#: where ``polaris_catalog`` leaves its namespace's name for ``polaris_namespace``
NAMESPACE_KEY = pytest.StashKey[str]()


def _from_cluster(host: str, port: int, secret: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {"uri": f"http://{host}:{port}/api/catalog"}
    if "POLARIS_CLIENT_ID" in secret and "POLARIS_CLIENT_SECRET" in secret:
        found["credential"] = f"{secret['POLARIS_CLIENT_ID']}:{secret['POLARIS_CLIENT_SECRET']}"
    if "POLARIS_WAREHOUSE" in secret:
        found["warehouse"] = secret["POLARIS_WAREHOUSE"]
    if "POLARIS_REALM" in secret:
        found["realm"] = secret["POLARIS_REALM"]
    return found


def _address(config: Any) -> tuple[str, int]:
    parts = urlsplit(config.uri)
    return parts.hostname or "", parts.port or 8181


SERVICE = ServiceDeclaration(
    name="polaris", service="polaris", port=8181, extra_ports=(8182,),
    secret="polaris-credentials",  # noqa: S106 - a Secret's name, not a password
    credentials={"credential": "POLARIS_CLIENT_SECRET"},
    values={"warehouse": "POLARIS_WAREHOUSE", "realm": "POLARIS_REALM"},
    client_module="pyiceberg", install="pip install 'floe-testing[polaris]'",
    client_fixture="polaris_catalog", env_prefix="POLARIS_", endpoint_field="uri",
    config="floe_testing.services.polaris.config:PolarisConfig",
    opener="floe_testing.services.polaris.helper:open_for_test",
    secret_fields=("credential",),
    cluster_fields=("uri", "credential", "warehouse", "realm"),
    endpoint_of={"s3_endpoint": "minio"}, from_cluster=_from_cluster, address_of=_address,
    exports={"PolarisConfig": "floe_testing.services.polaris.config:PolarisConfig",
             "PolarisFixture": "floe_testing.services.polaris.helper:PolarisFixture"},
)
