"""PostgreSQL, declared: the Service ``postgres:5432`` of the stack, its Secret
``postgres-credentials``; ``postgres_config`` and ``postgres_connection`` (a throw-away
database per test). The config is :mod:`.config`, the helper :mod:`.helper`."""

from __future__ import annotations

from typing import Any

import pytest

from floe_testing.services.fixtures import service_fixtures
from floe_testing.services.postgres.service import SERVICE

postgres_config, postgres_connection = service_fixtures(SERVICE)


@pytest.fixture(scope="session")
def _floe_postgres_sweep(postgres_config: Any, pytestconfig: pytest.Config) -> None:
    """Once per session: drop test databases whose creating process is gone."""
    from floe_testing.services.postgres.helper import sweep_dead_databases

    sweep_dead_databases(postgres_config, pytestconfig)
