"""001-FR-023: ``duckdb_connection``, in memory by default, closed after the test."""

from __future__ import annotations

import duckdb
import pytest

from floe_testing.services.duckdb.config import DuckDBConfig
from support.checks import AfterTeardown

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-023")]


def raises_closed(conn: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.ConnectionException, match="closed"):
        conn.execute("SELECT 1")


def test_in_memory_queries(
    duckdb_connection: duckdb.DuckDBPyConnection, duckdb_config: DuckDBConfig
) -> None:
    assert duckdb_config.database == ":memory:"
    assert not duckdb_config.read_only
    duckdb_connection.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
    assert duckdb_connection.execute("SELECT sum(x), count(*) FROM t").fetchone() == (10, 5)
    row = duckdb_connection.execute("SELECT database_name FROM duckdb_databases() "
                                    "WHERE NOT internal").fetchone()
    assert row == ("memory",)


def test_connection_is_closed_after_the_test(
    duckdb_connection: duckdb.DuckDBPyConnection, after_teardown: AfterTeardown
) -> None:
    assert duckdb_connection.execute("SELECT 42").fetchone() == (42,)
    after_teardown.check("connection closed", lambda: raises_closed(duckdb_connection))


def test_each_test_gets_its_own_in_memory_database(
    duckdb_connection: duckdb.DuckDBPyConnection,
) -> None:
    tables = duckdb_connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    assert tables == [], "the table another test created must not be visible here"
