"""The declaration of duckdb (:data:`SERVICE`): its Service, Secret, config, helper."""

from __future__ import annotations

from floe_testing.services.declaration import ServiceDeclaration

SERVICE = ServiceDeclaration(
    name="duckdb", client_module="duckdb", install="pip install 'floe-testing[duckdb]'",
    client_fixture="duckdb_connection", endpoint_field="database",
    config="floe_testing.services.duckdb.config:DuckDBConfig",
    opener="floe_testing.services.duckdb.helper:open_for_test",
    exports={"DuckDBConfig": "floe_testing.services.duckdb.config:DuckDBConfig",
             "DuckDBFixture": "floe_testing.services.duckdb.helper:DuckDBFixture"},
)
