"""001-FR-022, 001-FR-053: the Polaris fixtures meet Polaris' rules with one screen each.

Each test runs a catalog double of its own (``support.iceberg_rest``) with one of Polaris'
rules turned on, as real Polaris answers it (403 for a missing privilege or a refused purge,
generic tables keeping a namespace, 404 ``MissingOrInvalidRealm``), and a user's run of the
plugin against it (an inner pytest). That the stack's Polaris stand-in enforces the same rules
is proven in the stack tier (``tests/stack/test_stand_in_enforces_polaris_rules.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from floe_testing import PolarisFixture, ServiceHealth, check_service_health, service_health
from floe_testing.services.polaris.config import PolarisConfig
from support.iceberg_rest import IcebergRestServer
from support.inner_pytest import InnerRun, run_inner_pytest

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-022", "001-FR-053")]

USES_CATALOG = """
    def test_uses_catalog(polaris_catalog, polaris_namespace):
        assert polaris_catalog.namespace_exists(polaris_namespace)
"""

#: a test that writes a table with data (its teardown purges it), recording its namespace
WRITES_A_TABLE = """
    import pyarrow as pa  # type: ignore[import-untyped]
    from conftest import record

    def test_writes_a_table(polaris_catalog, polaris_namespace):
        table = polaris_catalog.create_table((polaris_namespace, "events"),
                                             schema=pa.schema([("x", pa.int64())]))
        table.append(pa.table({"x": [1, 2]}))
        record("namespace", polaris_namespace)
"""


@pytest.fixture
def polaris() -> Iterator[IcebergRestServer]:
    """A catalog of this test's own: the rules it turns on reach no other test."""
    server = IcebergRestServer(warehouse="rules_warehouse")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def one_screen(run: InnerRun, test: str) -> str:
    """The test's error message, asserted to be the plugin's message alone (no traceback of
    pyiceberg or of the fixture)."""
    message = run.messages[test]
    assert "Traceback" not in message, run.describe()
    assert "pyiceberg/" not in message, run.describe()
    assert len(message.splitlines()) <= 12, message
    return message


def test_missing_privilege_names_principal_operation_privilege_and_grant(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    polaris.rules.forbidden = {"CREATE_NAMESPACE"}
    run = run_inner_pytest(tmp_path, USES_CATALOG, env=polaris.env())
    assert run.outcomes == {"test_uses_catalog": "error"}, run.describe()
    message = one_screen(run, "test_uses_catalog")
    assert "principal 'floe-it-client'" in message
    assert "op CREATE_NAMESPACE" in message
    assert "NAMESPACE_CREATE" in message
    assert "CATALOG_MANAGE_CONTENT" in message
    assert "polaris-bootstrap" in message
    assert "catalog 'rules_warehouse'" in message
    assert polaris.client_secret not in run.output


def test_missing_list_privilege_in_the_session_sweep_is_one_screen_for_every_test(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    polaris.rules.forbidden = {"LIST_NAMESPACES"}
    run = run_inner_pytest(tmp_path, USES_CATALOG + """
    def test_uses_catalog_again(polaris_catalog):
        pass
    """, env=polaris.env())
    assert run.outcomes == {"test_uses_catalog": "error", "test_uses_catalog_again": "error"}, \
        run.describe()
    for test in run.outcomes:
        message = one_screen(run, test)
        assert "op LIST_NAMESPACES" in message
        assert "NAMESPACE_LIST" in message


def test_second_test_after_a_wrong_credential_is_one_screen_too(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    env = {**polaris.env(), "POLARIS_CREDENTIAL": f"{polaris.client_id}:not-the-secret-x1"}
    run = run_inner_pytest(tmp_path, USES_CATALOG + """
    def test_uses_catalog_again(polaris_catalog):
        pass
    """, env=env)
    assert set(run.outcomes.values()) == {"error"}, run.describe()
    first, second = (one_screen(run, t) for t in ("test_uses_catalog", "test_uses_catalog_again"))
    assert "POLARIS_CREDENTIAL" in first
    assert "POLARIS_CREDENTIAL" in second
    assert "not-the-secret-x1" not in run.output


def test_refused_purge_drops_what_it_can_then_names_the_catalog_setting(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    polaris.rules.purge_enabled = False
    run = run_inner_pytest(tmp_path, WRITES_A_TABLE, env=polaris.env())
    # the test passed; its teardown fails (pytest reports both)
    assert "1 passed, 1 error" in run.output, run.describe()
    message = one_screen(run, "test_writes_a_table")
    assert "polaris.config.drop-with-purge.enabled" in message
    assert "rules_warehouse" in message
    [namespace] = run.recorded("namespace")
    assert f"{namespace}.events" in message
    assert not polaris.namespace_exists(namespace), "the namespace was left behind"
    assert polaris.tables_in(namespace) == []
    assert polaris.data_files(namespace), "dropped without purge: the data stays, as said"


def test_purge_refused_for_a_missing_privilege_drops_what_it_can_then_names_it(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    """Polaris' own ``catalog_admin`` may drop a table but not purge it
    (``DROP_TABLE_WITH_PURGE`` needs ``TABLE_WRITE_DATA``): the table is dropped without
    purge, the namespace goes, and the 403 is explained."""
    polaris.rules.forbidden = {"DROP_TABLE_WITH_PURGE"}
    run = run_inner_pytest(tmp_path, WRITES_A_TABLE, env=polaris.env())
    assert "1 passed, 1 error" in run.output, run.describe()
    message = one_screen(run, "test_writes_a_table")
    assert "op DROP_TABLE_WITH_PURGE" in message
    assert "TABLE_WRITE_DATA" in message
    [namespace] = run.recorded("namespace")
    assert not polaris.namespace_exists(namespace), "the namespace was left behind"
    assert polaris.data_files(namespace), "dropped without purge: the data stays"


def test_child_namespaces_and_their_tables_are_dropped_first(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    """Polaris refuses to drop a namespace that has children: the cleanup drops them (and
    their tables) first."""
    run = run_inner_pytest(tmp_path, """
        import pyarrow as pa  # type: ignore[import-untyped]
        from conftest import record

        def test_nests_namespaces(polaris_catalog, polaris_namespace):
            polaris_catalog.create_namespace((polaris_namespace, "raw"))
            polaris_catalog.create_namespace((polaris_namespace, "raw", "landing"))
            polaris_catalog.create_table((polaris_namespace, "raw", "landing", "events"),
                                         schema=pa.schema([("x", pa.int64())]))
            record("namespace", polaris_namespace)
    """, env=polaris.env())
    assert run.outcomes == {"test_nests_namespaces": "passed"}, run.describe()
    [namespace] = run.recorded("namespace")
    assert not polaris.namespace_exists(namespace), "the namespace was left behind"


def test_generic_tables_are_dropped_with_the_namespace(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    run = run_inner_pytest(tmp_path, """
        from conftest import record

        def test_registers_a_generic_table(polaris_catalog, polaris_namespace):
            url = (f"{polaris_catalog.uri}/polaris/v1/{polaris_catalog.properties['prefix']}"
                   f"/namespaces/{polaris_namespace}/generic-tables")
            created = polaris_catalog._session.post(url, json={"name": "raw_events",
                                                               "format": "delta"})
            assert created.status_code == 200, created.text
            record("namespace", polaris_namespace)
    """, env=polaris.env())
    assert run.outcomes == {"test_registers_a_generic_table": "passed"}, run.describe()
    [namespace] = run.recorded("namespace")
    assert not polaris.namespace_exists(namespace)
    assert polaris.rules.generic.get(namespace) == {}


def test_realm_the_server_does_not_serve_names_polaris_realm(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    polaris.rules.realms = ("FLOE",)
    wrong = run_inner_pytest(tmp_path / "wrong", USES_CATALOG,
                             env={**polaris.env(), "POLARIS_REALM": "ELSEWHERE"})
    assert wrong.outcomes == {"test_uses_catalog": "error"}, wrong.describe()
    message = one_screen(wrong, "test_uses_catalog")
    assert "MissingOrInvalidRealm" in message
    assert "POLARIS_REALM" in message
    assert "'ELSEWHERE'" in message
    assert "Polaris-Realm" in message
    right = run_inner_pytest(tmp_path / "right", USES_CATALOG,
                             env={**polaris.env(), "POLARIS_REALM": "FLOE"})
    assert right.outcomes == {"test_uses_catalog": "passed"}, right.describe()


def config_of(server: IcebergRestServer, **changes: object) -> PolarisConfig:
    values: dict[str, object] = {"uri": server.uri, "warehouse": server.warehouse,
                                 "credential": SecretStr(server.credential)}
    values.update(changes)
    return PolarisConfig(**values)


@pytest.mark.requirement("001-FR-061")
def test_a_catalog_that_hangs_after_the_probe_is_one_screen_within_the_timeouts(
    polaris: IcebergRestServer, tmp_path: Path
) -> None:
    """The probe (a token, the config, listing namespaces) is answered; creating the test's
    namespace is not: the test errors within the client's bounds, on one screen naming what
    was asked, where, and the bounds."""
    polaris.rules.hangs = {"CREATE_NAMESPACE"}
    env = {**polaris.env(), "FLOE_CONNECT_TIMEOUT": "1", "FLOE_READ_TIMEOUT": "2"}
    run = run_inner_pytest(tmp_path, USES_CATALOG, env=env)
    assert run.outcomes == {"test_uses_catalog": "error"}, run.describe()
    message = one_screen(run, "test_uses_catalog")
    assert "asked to create the test's namespace" in message
    assert polaris.uri in message
    assert "did not answer in time" in message


def test_service_health_says_why(polaris: IcebergRestServer) -> None:
    healthy = service_health(PolarisFixture(config_of(polaris)))
    assert healthy == ServiceHealth(True, "")
    assert healthy

    polaris.rules.forbidden = {"LIST_NAMESPACES"}
    refused = service_health(PolarisFixture(config_of(polaris)))
    assert not refused
    assert "op LIST_NAMESPACES" in refused.reason
    assert "CATALOG_MANAGE_CONTENT" in refused.reason
    assert check_service_health(PolarisFixture(config_of(polaris))) is False

    bad = config_of(polaris, credential=SecretStr(f"{polaris.client_id}:wrong-secret-z9"))
    unauthorised = service_health(PolarisFixture(bad))
    assert not unauthorised.healthy
    assert "invalid_client" in unauthorised.reason
    assert "POLARIS_CREDENTIAL" in unauthorised.reason
    assert "wrong-secret-z9" not in unauthorised.reason
