"""The declaration of postgres (:data:`SERVICE`): its Service, Secret, config, helper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from floe_testing.services.declaration import ServiceDeclaration


def _from_cluster(host: str, port: int, secret: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {"host": host, "port": port}
    for key, name in (("POSTGRES_USER", "user"), ("POSTGRES_PASSWORD", "password"),
                      ("POSTGRES_DB", "database")):
        if key in secret:
            found[name] = secret[key]
    return found


SERVICE = ServiceDeclaration(
    name="postgres", service="postgres", port=5432,
    secret="postgres-credentials",  # noqa: S106 - a Secret's name, not a password
    credentials={"password": "POSTGRES_PASSWORD"},
    values={"user": "POSTGRES_USER", "database": "POSTGRES_DB"},
    client_module="psycopg2", install="pip install 'floe-testing[postgres]'",
    client_fixture="postgres_connection",
    config="floe_testing.services.postgres.config:PostgresConfig",
    opener="floe_testing.services.postgres.helper:open_for_test",
    secret_fields=("password",),
    cluster_fields=("host", "port", "user", "password", "database"),
    from_cluster=_from_cluster,
    exports={"PostgresConfig": "floe_testing.services.postgres.config:PostgresConfig",
             "PostgresFixture": "floe_testing.services.postgres.helper:PostgresFixture"},
)
