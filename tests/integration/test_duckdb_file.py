"""001-FR-023: ``duckdb_connection`` on a database file, writable or read-only (env config).

``duckdb_config`` is overridden here the way a user would, building the config from
``DUCKDB_DATABASE``/``DUCKDB_READ_ONLY`` set for the test; ``read_only`` is parametrized.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from floe_testing.services.duckdb.config import DuckDBConfig
from support.checks import AfterTeardown

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-023")]


@pytest.fixture
def read_only() -> bool:
    return False


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    """A database file holding ``t(x)`` with rows 1, 2, 3."""
    path = tmp_path / "floe.duckdb"
    conn = duckdb.connect(str(path))
    try:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1), (2), (3)")
    finally:
        conn.close()
    return path


@pytest.fixture
def duckdb_config(database_file: Path, read_only: bool) -> Iterator[DuckDBConfig]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUCKDB_DATABASE", str(database_file))
        mp.setenv("DUCKDB_READ_ONLY", "true" if read_only else "false")
        yield DuckDBConfig()


def rows(database: Path) -> list[tuple[int]]:
    conn = duckdb.connect(str(database), read_only=True)
    try:
        return conn.execute("SELECT x FROM t ORDER BY x").fetchall()
    finally:
        conn.close()


def test_file_database_is_writable_and_persists(
    duckdb_connection: duckdb.DuckDBPyConnection,
    duckdb_config: DuckDBConfig,
    database_file: Path,
    after_teardown: AfterTeardown,
) -> None:
    assert duckdb_config.database == str(database_file)
    assert not duckdb_config.read_only
    duckdb_connection.execute("INSERT INTO t VALUES (4)")
    assert duckdb_connection.execute("SELECT count(*) FROM t").fetchone() == (4,)
    # Reopening read-only proves the fixture closed it: while a read-write connection holds
    # the file, DuckDB refuses to open it again in this process with another configuration.
    after_teardown.check("row 4 persisted in the file", lambda: rows(database_file) == [
        (1,), (2,), (3,), (4,)])


@pytest.mark.parametrize("read_only", [True])
def test_read_only_database_refuses_writes(
    duckdb_connection: duckdb.DuckDBPyConnection,
    duckdb_config: DuckDBConfig,
    database_file: Path,
    after_teardown: AfterTeardown,
) -> None:
    assert duckdb_config.read_only
    assert duckdb_connection.execute("SELECT sum(x) FROM t").fetchone() == (6,)
    with pytest.raises(duckdb.InvalidInputException, match="read-only"):
        duckdb_connection.execute("INSERT INTO t VALUES (4)")
    with pytest.raises(duckdb.InvalidInputException, match="read-only"):
        duckdb_connection.execute("CREATE TABLE u (y INTEGER)")

    def closed() -> None:
        with pytest.raises(duckdb.ConnectionException, match="closed"):
            duckdb_connection.execute("SELECT 1")

    after_teardown.check("connection closed", closed)
    after_teardown.check("file unchanged", lambda: rows(database_file) == [(1,), (2,), (3,)])


def test_read_only_in_memory_is_a_config_error() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUCKDB_DATABASE", ":memory:")
        mp.setenv("DUCKDB_READ_ONLY", "true")
        with pytest.raises(ValueError, match="DUCKDB_READ_ONLY") as error:
            DuckDBConfig()
    assert "needs a database file" in str(error.value)
