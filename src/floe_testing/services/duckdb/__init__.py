"""DuckDB, declared: it runs in the test process (no Kubernetes Service); ``duckdb_config``
(env ``DUCKDB_DATABASE``, ``DUCKDB_READ_ONLY``) and ``duckdb_connection``, closed after the
test. The config is :mod:`.config`, the helper :mod:`.helper`."""

from __future__ import annotations

from floe_testing.services.duckdb.service import SERVICE
from floe_testing.services.fixtures import service_fixtures

duckdb_config, duckdb_connection = service_fixtures(SERVICE)
