"""The package as a light install: each client is an extra and a missing one says what to pip
install (before any cluster work); the service helpers satisfy the data model's
``ServiceFixture`` protocol and report health without raising; a run that needs no cluster
leaves signals and the working directory alone."""

from __future__ import annotations

import signal
import sys
import time

import pytest
from pydantic import SecretStr

from floe_testing import (
    ConfigError,
    DagsterConfig,
    DagsterFixture,
    DuckDBConfig,
    DuckDBFixture,
    MinIOConfig,
    MinIOFixture,
    PolarisConfig,
    PolarisFixture,
    PostgresConfig,
    PostgresFixture,
    ServiceFixture,
    check_service_health,
)
from floe_testing.extras import require_client
from floe_testing.services import builtin_services

pytestmark = pytest.mark.unit

HELPERS = {"postgres": PostgresFixture, "minio": MinIOFixture, "polaris": PolarisFixture,
           "duckdb": DuckDBFixture, "dagster": DagsterFixture}
BUILTINS = {service.name: service for service in builtin_services()}


@pytest.mark.requirement("001-FR-060")
@pytest.mark.parametrize("extra", sorted(BUILTINS))
def test_missing_client_names_the_exact_pip_command(
    extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = BUILTINS[extra].client_module
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like
    with pytest.raises(ConfigError) as info:
        require_client(BUILTINS[extra], f"{extra}_thing")
    message = str(info.value)
    assert f"pip install 'floe-testing[{extra}]'" in message
    assert f"{extra}_thing needs the {module!r} module" in message
    assert sys.executable in message
    with pytest.raises(ConfigError, match=r"floe-testing\[" + extra):
        HELPERS[extra]()  # the helpers check first, too


@pytest.mark.requirement("001-FR-060")
def test_every_extra_is_declared_in_the_package_metadata() -> None:
    from importlib.metadata import metadata

    declared = set(metadata("floe-testing").get_all("Provides-Extra") or [])
    assert set(BUILTINS) | {"all"} <= declared
    requires = metadata("floe-testing").get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    for heavy in ("pyiceberg", "duckdb", "dagster", "minio", "psycopg2"):
        assert not any(r.startswith(heavy) for r in core), (heavy, core)


@pytest.mark.requirement("001-FR-060")
def test_fixture_with_missing_client_fails_before_any_cluster_work(
    pytester: pytest.Pytester, clean_service_env: pytest.MonkeyPatch
) -> None:
    # no POSTGRES_HOST: without the check first, postgres_config would provision a cluster
    clean_service_env.setenv("PATH", str(pytester.mkdir("empty-bin")))
    pytester.makeconftest("""
        import sys
        sys.modules["psycopg2"] = None  # psycopg2 is not installed here
    """)
    pytester.makepyfile(test_pg="""
        def test_db(postgres_connection):
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "pip install 'floe-testing[postgres]'" in output, output
    assert "postgres_connection needs the 'psycopg2' module" in output, output
    for cluster_word in ("kind cluster", "kubectl", "manifests from"):
        assert cluster_word not in output, cluster_word


def _unreachable_helpers(port: int) -> list[ServiceFixture]:
    return [
        PostgresFixture(PostgresConfig(host="127.0.0.1", port=port,
                                       password=SecretStr("not-used-123"))),
        MinIOFixture(MinIOConfig(endpoint=f"http://127.0.0.1:{port}", access_key="a",
                                 secret_key=SecretStr("not-used-123"))),
        PolarisFixture(PolarisConfig(uri=f"http://127.0.0.1:{port}/api/catalog",
                                     warehouse="w", credential=SecretStr("id:not-used-123"))),
        DagsterFixture(DagsterConfig(host="127.0.0.1", port=port)),
    ]


@pytest.mark.requirement("001-FR-061")
def test_helpers_are_service_fixtures_and_unreachable_ones_are_unhealthy(
    closed_port: int
) -> None:
    helpers = _unreachable_helpers(closed_port)
    for helper in helpers:
        assert isinstance(helper, ServiceFixture), helper
        assert helper.service_port == closed_port, helper
        started = time.monotonic()
        assert check_service_health(helper) is False, helper
        assert time.monotonic() - started < 15, f"{helper}: health check not bounded"
    assert [h.service_name for h in helpers] == ["postgres", "minio", "polaris",
                                                 "dagster-webserver"]


@pytest.mark.requirement("001-FR-061")
def test_duckdb_helper_as_context_manager_generator_and_health(tmp_path: object) -> None:
    helper = DuckDBFixture(DuckDBConfig(database=":memory:"))
    assert isinstance(helper, ServiceFixture)
    assert (helper.service_name, helper.service_port) == ("duckdb", 0)
    assert check_service_health(helper) is True
    with helper as conn:
        assert conn.execute("select 41 + 1").fetchone() == (42,)
    with pytest.raises(Exception, match="closed"):
        conn.execute("select 1")
    generator = helper()  # the protocol's form: a generator that cleans up on close
    conn = next(generator)
    assert conn.execute("select 'ok'").fetchone() == ("ok",)
    generator.close()
    with pytest.raises(Exception, match="closed"):
        conn.execute("select 1")


@pytest.mark.requirement("001-FR-061")
def test_check_service_health_on_a_foreign_service_fixture() -> None:
    """Any object with the protocol's members works: opened and closed once."""
    events: list[str] = []

    class Ours:
        service_name = "custom"
        service_port = 1234

        def __call__(self):  # type: ignore[no-untyped-def]
            events.append("open")
            yield "client"
            events.append("closed")

    class Broken(Ours):
        def __call__(self):  # type: ignore[no-untyped-def]
            raise ConnectionRefusedError("down")
            yield  # pragma: no cover

    assert isinstance(Ours(), ServiceFixture)
    assert check_service_health(Ours()) is True
    assert events == ["open", "closed"]
    assert check_service_health(Broken()) is False


@pytest.mark.requirement("001-FR-062")
def test_a_run_without_cluster_keeps_sigterm_and_pytest_kinds_fixture_away(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_plain="""
        import signal

        def test_sigterm_untouched():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    listing = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    assert "kind_cluster" not in listing.stdout.str()
    assert "floe_cluster" in listing.stdout.str()
    assert "--keep-cluster" in pytester.runpytest_subprocess("--help").stdout.str()
    assert not (pytester.path / ".pytest-kind").exists()
    assert signal.getsignal(signal.SIGTERM) is not None
