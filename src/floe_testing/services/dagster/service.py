"""The declaration of dagster (:data:`SERVICE`): its Service, Secret, config, helper."""

from __future__ import annotations

from floe_testing.services.declaration import ServiceDeclaration

SERVICE = ServiceDeclaration(
    name="dagster", service="dagster-webserver", port=3000,
    client_module="dagster_graphql", install="pip install 'floe-testing[dagster]'",
    config="floe_testing.services.dagster.config:DagsterConfig",
    opener="floe_testing.services.dagster.helper:open_for_test",
    cluster_fields=("host", "port"),
    exports={"DagsterConfig": "floe_testing.services.dagster.config:DagsterConfig",
             "DagsterFixture": "floe_testing.services.dagster.helper:DagsterFixture",
             "run_dagster_job": "floe_testing.services.dagster.helper:run_dagster_job"},
)
