"""001-FR-020: ``postgres_connection`` gets a fresh database per test, dropped after it."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from psycopg2.extensions import connection
from pydantic import SecretStr

from floe_testing.errors import InfrastructureError
from floe_testing.services.postgres.config import PostgresConfig
from floe_testing.services.postgres.helper import connect
from support.checks import AfterTeardown
from support.inner_pytest import run_inner_pytest
from support.postgres_server import LocalPostgres

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-020")]


def current_database(conn: connection) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


def test_runs_sql_in_a_fresh_database_that_is_dropped_after(
    postgres_connection: connection,
    postgres_config: PostgresConfig,
    local_postgres: LocalPostgres,
    after_teardown: AfterTeardown,
) -> None:
    name = current_database(postgres_connection)
    assert name != postgres_config.database, "the test must not run in the shared database"
    assert re.fullmatch(r"test_[a-z0-9_]+_[0-9a-f]{8}", name), name
    assert local_postgres.database_exists(name)

    with postgres_connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert cur.fetchone() == (0,), "a fresh database has no tables"
        cur.execute("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)")
        cur.executemany("INSERT INTO items (name) VALUES (%s)", [("a",), ("b",), ("c",)])
        cur.execute("SELECT id, name FROM items ORDER BY id")
        assert cur.fetchall() == [(1, "a"), (2, "b"), (3, "c")]
    postgres_connection.commit()

    after_teardown.check(
        f"database {name} was dropped", lambda: not local_postgres.database_exists(name)
    )


def test_uses_the_credentials_from_env(
    postgres_connection: connection, postgres_config: PostgresConfig
) -> None:
    with postgres_connection.cursor() as cur:
        cur.execute("SELECT current_user, inet_server_port()")
        assert cur.fetchone() == (postgres_config.user, postgres_config.port)


@pytest.mark.requirement("001-FR-026")
def test_wrong_password_is_refused_with_a_hint_and_no_secret(
    postgres_config: PostgresConfig,
) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    config = postgres_config.model_copy(update={"password": SecretStr(wrong)})
    with pytest.raises(InfrastructureError) as failure:
        connect(config)
    message = str(failure.value)
    assert "password authentication failed" in message
    assert f"{postgres_config.host}:{postgres_config.port}" in message
    assert "POSTGRES_PASSWORD" in message
    assert wrong not in message


def test_database_is_dropped_whether_the_test_passes_or_fails(
    local_postgres: LocalPostgres, tmp_path: Path
) -> None:
    run = run_inner_pytest(
        tmp_path,
        """
        from conftest import record

        def current(conn):
            with conn.cursor() as cur:
                cur.execute("SELECT current_database()")
                return cur.fetchone()[0]

        def test_passes(postgres_connection):
            record("db", current(postgres_connection))

        def test_fails(postgres_connection):
            with postgres_connection.cursor() as cur:
                cur.execute("CREATE TABLE t (x int)")
            record("db", current(postgres_connection))
            assert False, "the test body fails on purpose"
        """,
    )
    assert run.outcomes == {"test_passes": "passed", "test_fails": "failed"}, run.describe()
    assert "fails on purpose" in run.messages["test_fails"]
    names = run.recorded("db")
    assert len(names) == 2, run.describe()
    assert len(set(names)) == 2, f"each test gets its own database: {names}"
    left = [name for name in names if local_postgres.database_exists(name)]
    assert left == [], f"databases left behind: {left}"
