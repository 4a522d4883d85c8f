"""001-FR-022: ``polaris_catalog`` has a unique namespace, dropped with its tables after."""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from pydantic import SecretStr
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NoSuchTableError

from floe_testing.errors import InfrastructureError
from floe_testing.run_identity import Owner
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.polaris.helper import make_catalog
from support.checks import AfterTeardown
from support.iceberg_rest import IcebergRestServer
from support.inner_pytest import run_inner_pytest

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-022")]

SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("amount", pa.float64()),
])


def sample(ids: list[int]) -> pa.Table:
    return pa.table(
        {"id": ids, "name": [f"n{i}" for i in ids], "amount": [i * 1.5 for i in ids]},
        schema=SCHEMA,
    )


def test_namespace_is_unique_and_exists(
    polaris_catalog: RestCatalog, polaris_namespace: str, local_iceberg: IcebergRestServer
) -> None:
    assert polaris_catalog.namespace_exists(polaris_namespace)
    assert (polaris_namespace,) in polaris_catalog.list_namespaces()
    assert local_iceberg.namespace_exists(polaris_namespace)
    assert polaris_catalog.list_tables(polaris_namespace) == []
    properties = polaris_catalog.load_namespace_properties(polaris_namespace)
    owner = Owner.parse(properties["floe-testing-owner"])
    assert owner is not None
    assert owner.pid == os.getpid()
    assert properties["test"].endswith("test_namespace_is_unique_and_exists")


def test_table_round_trip_and_cleanup(
    polaris_catalog: RestCatalog,
    polaris_namespace: str,
    local_iceberg: IcebergRestServer,
    after_teardown: AfterTeardown,
) -> None:
    identifier = (polaris_namespace, "events")
    table = polaris_catalog.create_table(identifier, schema=SCHEMA)
    table.append(sample([1, 2, 3]))
    table.append(sample([4]))

    loaded = polaris_catalog.load_table(identifier)
    assert len(loaded.metadata.snapshots) == 2
    result = loaded.scan().to_arrow().sort_by("id")
    assert result.column_names == ["id", "name", "amount"]
    assert result.to_pylist() == sample([1, 2, 3, 4]).to_pylist()
    filtered = loaded.scan(row_filter="id >= 3", selected_fields=("id",)).to_arrow()
    assert sorted(filtered.column("id").to_pylist()) == [3, 4]
    assert polaris_catalog.list_tables(polaris_namespace) == [identifier]
    assert local_iceberg.data_files(polaris_namespace), "the append wrote parquet files"

    def namespace_gone() -> None:
        assert not local_iceberg.namespace_exists(polaris_namespace), "namespace still there"
        assert local_iceberg.tables_in(polaris_namespace) == []

    def data_purged() -> None:
        left = local_iceberg.data_files(polaris_namespace)
        assert left == [], f"data files left: {left}"

    after_teardown.check(f"namespace {polaris_namespace} dropped", namespace_gone)
    after_teardown.check(f"table data of {polaris_namespace} purged", data_purged)


def test_missing_table_raises_pyiceberg_error(
    polaris_catalog: RestCatalog, polaris_namespace: str
) -> None:
    with pytest.raises(NoSuchTableError):
        polaris_catalog.load_table((polaris_namespace, "nope"))
    assert not polaris_catalog.table_exists((polaris_namespace, "nope"))


def test_uses_the_catalog_settings_from_env(
    polaris_config: PolarisConfig, local_iceberg: IcebergRestServer
) -> None:
    assert polaris_config.uri == local_iceberg.uri
    assert polaris_config.uri.endswith("/api/catalog")
    assert polaris_config.warehouse == local_iceberg.warehouse
    assert polaris_config.credential is not None
    assert polaris_config.credential.get_secret_value() == local_iceberg.credential


def test_token_endpoint_is_configured_explicitly(polaris_config: PolarisConfig) -> None:
    """pyiceberg's implicit ``{uri}/v1/oauth/tokens`` fallback is deprecated (gone in 1.0)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        catalog = make_catalog(polaris_config)
    try:
        oauth_warnings = [str(w.message) for w in caught if "OAuth2" in str(w.message)]
        assert oauth_warnings == []
        assert catalog.properties["oauth2-server-uri"] == f"{polaris_config.uri}/v1/oauth/tokens"
    finally:
        catalog.close()


@pytest.mark.requirement("001-FR-026")
def test_wrong_credential_fails_clearly_without_showing_the_secret(
    polaris_config: PolarisConfig,
) -> None:
    bad_secret = f"not-the-secret-{secrets.token_hex(8)}"
    config = PolarisConfig(
        uri=polaris_config.uri, warehouse=polaris_config.warehouse,
        credential=SecretStr(f"floe-it-client:{bad_secret}"),
    )
    with pytest.raises(InfrastructureError) as failure:
        make_catalog(config)
    message = str(failure.value)
    assert "invalid_client" in message
    assert polaris_config.uri in message
    assert "POLARIS_CREDENTIAL" in message
    assert bad_secret not in message


@pytest.mark.requirement("001-FR-026")
def test_wrong_credential_in_env_fails_the_test_with_a_hint(
    local_iceberg: IcebergRestServer, tmp_path: Path
) -> None:
    bad_secret = f"not-the-secret-{secrets.token_hex(8)}"
    run = run_inner_pytest(
        tmp_path,
        """
        def test_uses_catalog(polaris_catalog):
            pass
        """,
        env={"POLARIS_CREDENTIAL": f"{local_iceberg.client_id}:{bad_secret}"},
    )
    assert run.outcomes == {"test_uses_catalog": "error"}, run.describe()
    message = run.messages["test_uses_catalog"]
    assert "invalid_client" in message
    assert "POLARIS_CREDENTIAL" in message
    assert bad_secret not in run.output
    assert bad_secret not in message


def test_namespace_is_dropped_whether_the_test_passes_or_fails(
    local_iceberg: IcebergRestServer, tmp_path: Path
) -> None:
    run = run_inner_pytest(
        tmp_path,
        """
        import pyarrow as pa  # type: ignore[import-untyped]
        from conftest import record

        def make_table(catalog, namespace):
            table = catalog.create_table((namespace, "t"), schema=pa.schema([("x", pa.int64())]))
            table.append(pa.table({"x": [1, 2, 3]}))
            record("namespace", namespace)

        def test_passes(polaris_catalog, polaris_namespace):
            make_table(polaris_catalog, polaris_namespace)

        def test_fails(polaris_catalog, polaris_namespace):
            make_table(polaris_catalog, polaris_namespace)
            assert False, "the test body fails on purpose"
        """,
    )
    assert run.outcomes == {"test_passes": "passed", "test_fails": "failed"}, run.describe()
    namespaces = run.recorded("namespace")
    assert len(set(namespaces)) == 2, run.describe()
    for namespace in namespaces:
        assert not local_iceberg.namespace_exists(namespace), f"{namespace} left behind"
        assert local_iceberg.data_files(namespace) == [], f"data of {namespace} left behind"
