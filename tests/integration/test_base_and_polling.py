"""``IntegrationTestBase`` and ``wait_for_service`` against env-registered endpoints.

001-FR-031 (wait_for_service), 001-FR-032 (required services checked, failing with a fix
hint), 001-FR-034 (registered cleanups run, pass or fail).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import psycopg2
import pytest

from floe_testing.base import IntegrationTestBase
from floe_testing.polling import PollingConfig, PollingTimeoutError, wait_for_service
from floe_testing.service_directory import Endpoint
from floe_testing.service_requirement import ServiceRequirement
from floe_testing.services.postgres.config import PostgresConfig
from support.directories import table_directory
from support.inner_pytest import run_inner_pytest
from support.postgres_server import LocalPostgres
from support.processes import closed_port

pytestmark = pytest.mark.integration


@pytest.mark.requirement("001-FR-031")
def test_wait_for_service_returns_when_the_env_endpoint_is_up(
    postgres_config: PostgresConfig,
) -> None:
    wait_for_service("postgres", 5432, config=PollingConfig(timeout=10, interval=0.1))


@pytest.mark.requirement("001-FR-031")
def test_wait_for_service_times_out_naming_the_service_and_address() -> None:
    port = closed_port()
    with table_directory() as cluster:
        cluster.endpoints[("nothing-here", 1234, "floe-test")] = Endpoint("127.0.0.1", port,
                                                                          "test")
        with pytest.raises(PollingTimeoutError) as timeout:
            wait_for_service("nothing-here", 1234, config=PollingConfig(timeout=1, interval=0.1))
    message = str(timeout.value)
    assert "nothing-here:1234" in message
    assert f"127.0.0.1:{port}" in message
    assert "ConnectionRefusedError" in message


@pytest.mark.requirement("001-FR-032", "001-FR-034")
@pytest.mark.usefixtures("local_postgres")
class TestRequiredPostgres(IntegrationTestBase):
    """A user's test class: needs ``postgres:5432``, reached through the env endpoint."""

    required_services: ClassVar[list[ServiceRequirement]] = [
        ServiceRequirement(name="postgres", port=5432)
    ]

    def test_setup_found_the_service_and_cleanup_runs(
        self, local_postgres: LocalPostgres
    ) -> None:
        ran: list[str] = []
        self.add_cleanup(lambda: ran.append("second"), "second")
        self.add_cleanup(lambda: ran.append("first"), "first")
        conn = psycopg2.connect(host=local_postgres.host, port=local_postgres.port,
                                user=local_postgres.user, password=local_postgres.password,
                                dbname=local_postgres.database)
        self.add_cleanup(conn.close, "close connection")
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        # Run the cleanups now to observe them (newest first); pytest's own teardown_method
        # call afterwards finds none left. Failing tests are covered by the inner run below.
        self.teardown_method()
        assert ran == ["first", "second"]
        assert conn.closed

    @pytest.mark.requirement("001-FR-033")
    def test_namespace_is_unique_per_test(self) -> None:
        first = self.namespace
        assert re.fullmatch(r"test_[0-9a-f]{8}", first)
        assert self.namespace == first, "stable within one test"
        assert first != self.generate_unique_namespace()


@pytest.mark.requirement("001-FR-032")
def test_unreachable_required_service_fails_with_what_was_tried_and_the_fix(
    local_postgres: LocalPostgres, tmp_path: Path
) -> None:
    port = closed_port()
    run = run_inner_pytest(
        tmp_path,
        """
        from floe_testing.base import IntegrationTestBase
        from floe_testing.service_requirement import ServiceRequirement

        class TestNeedsPostgres(IntegrationTestBase):
            required_services = [ServiceRequirement(name="postgres", port=5432)]

            def test_body(self):
                raise AssertionError("the body must not run when the service is missing")
        """,
        env={"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(port)},
    )
    assert run.outcomes == {"test_body": "error"}, run.describe()
    assert run.counts()["skipped"] == 0
    message = run.messages["test_body"]
    assert "Required service postgres:5432" in message
    assert f"tried 127.0.0.1:{port} (from env POSTGRES_HOST)" in message
    assert "Fix:" in message
    assert "must not run" not in message


@pytest.mark.requirement("001-FR-034")
def test_registered_cleanups_run_when_the_test_fails(
    local_postgres: LocalPostgres, tmp_path: Path
) -> None:
    """A resource registered with add_cleanup (a real database) is gone after a failing test."""
    run = run_inner_pytest(
        tmp_path,
        """
        import os

        import psycopg2
        from conftest import record
        from floe_testing.base import IntegrationTestBase
        from floe_testing.service_requirement import ServiceRequirement
        from psycopg2 import sql

        def admin():
            conn = psycopg2.connect(
                host=os.environ["POSTGRES_HOST"], port=os.environ["POSTGRES_PORT"],
                user=os.environ["POSTGRES_USER"], password=os.environ["POSTGRES_PASSWORD"],
                dbname=os.environ["POSTGRES_DATABASE"])
            conn.autocommit = True
            return conn

        def run(statement, name):
            conn = admin()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql.SQL(statement).format(sql.Identifier(name)))
            finally:
                conn.close()

        class TestCleans(IntegrationTestBase):
            required_services = [ServiceRequirement(name="postgres", port=5432)]

            def test_fails_after_creating_a_database(self):
                name = self.namespace
                run("CREATE DATABASE {}", name)
                self.add_cleanup(lambda: run("DROP DATABASE {}", name), f"drop {name}")
                record("db", name)
                assert False, "the test body fails on purpose"
        """,
    )
    assert run.outcomes == {"test_fails_after_creating_a_database": "failed"}, run.describe()
    (name,) = run.recorded("db")
    assert not local_postgres.database_exists(name), f"database {name} left behind"

