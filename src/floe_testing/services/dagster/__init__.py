"""Dagster, declared: the webserver's Service ``dagster-webserver:3000`` of the stack;
``dagster_config`` and ``dagster_client`` (a GraphQL client, the server checked first), and
``run_dagster_job`` in :mod:`.helper`. The config is :mod:`.config`."""

from __future__ import annotations

from floe_testing.services.dagster.service import SERVICE
from floe_testing.services.fixtures import service_fixtures

dagster_config, dagster_client = service_fixtures(SERVICE)
