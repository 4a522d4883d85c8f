"""001-FR-022, 001-FR-027: the stack's Polaris enforces what real Polaris enforces, and the
fixtures meet it with one screen each.

Against the packaged stack's catalog (here the stand-in of tests/images/polaris, on a machine
with Docker the official image): RBAC through principals, principal roles, catalog roles and
grants; purges refused unless the catalog enables them; catalogs whose locations overlap
refused; realms checked; credentials vended through MinIO's STS, short-lived and scoped to the
table; generic tables. Each test makes its own principals, roles and catalogs through the
management API as the stack's root principal and deletes them again.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from floe_testing import PolarisFixture, service_health
from floe_testing.errors import CleanupError, InfrastructureError
from floe_testing.services.polaris.helper import make_catalog
from floe_testing.stack import polaris_bootstrap as pb
from support.polaris_admin import PolarisAdmin, PolarisCallError

if TYPE_CHECKING:
    from pyiceberg.catalog.rest import RestCatalog

    from floe_testing.services.minio.config import MinIOConfig
    from floe_testing.services.polaris.config import PolarisConfig

pytestmark = [pytest.mark.stack, pytest.mark.requirement("001-FR-022", "001-FR-027")]

#: the stack's Iceberg bucket (the minio-buckets Job) and its landing bucket
ICEBERG_BUCKET = "floe-iceberg"
LANDING_BUCKET = "floe-warehouse"


@pytest.fixture
def admin(polaris_config: PolarisConfig) -> Iterator[PolarisAdmin]:
    with PolarisAdmin(polaris_config) as made:
        yield made


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


def as_principal(config: PolarisConfig, credential: str, **changes: object) -> PolarisConfig:
    return config.model_copy(update={"credential": SecretStr(credential), **changes})


def schema() -> object:
    import pyarrow as pa

    return pa.schema([pa.field("id", pa.int64())])


def rows(*ids: int) -> object:
    import pyarrow as pa

    return pa.table({"id": list(ids)}, schema=schema())


def test_a_principal_without_grants_is_refused_naming_the_grant_to_make(
    polaris_config: PolarisConfig, admin: PolarisAdmin, suffix: str
) -> None:
    principal = f"floe_nogrant_{suffix}"
    config = as_principal(polaris_config, admin.create_principal(principal))
    with pytest.raises(InfrastructureError) as refused, PolarisFixture(config):
        pass
    message = str(refused.value)
    assert f"principal {principal!r}" in message
    assert "op CREATE_NAMESPACE" in message
    assert "NAMESPACE_CREATE" in message
    assert "CATALOG_MANAGE_CONTENT" in message
    health = service_health(PolarisFixture(config))
    assert not health.healthy
    assert "op LIST_NAMESPACES" in health.reason


def test_catalog_roles_grant_what_their_privileges_say(
    polaris_config: PolarisConfig, admin: PolarisAdmin, suffix: str
) -> None:
    """CATALOG_MANAGE_METADATA (what Polaris' catalog_admin holds) manages namespaces but not
    data; CATALOG_MANAGE_CONTENT adds the data; TABLE_READ_DATA reads with read-only keys."""
    catalog = polaris_config.warehouse
    writer, reader = f"floe_writer_{suffix}", f"floe_reader_{suffix}"
    writer_config = as_principal(polaris_config, admin.create_principal(writer))
    reader_config = as_principal(polaris_config, admin.create_principal(reader))
    admin.create_principal_role(f"floe_writers_{suffix}", principal=writer)
    admin.create_principal_role(f"floe_readers_{suffix}", principal=reader)
    admin.grant(catalog, f"floe_metadata_{suffix}", "CATALOG_MANAGE_METADATA",
                principal_role=f"floe_writers_{suffix}")
    admin.grant(catalog, f"floe_read_{suffix}", "TABLE_READ_DATA",
                principal_role=f"floe_readers_{suffix}")

    helper = PolarisFixture(writer_config)
    with helper as writing:
        namespace = helper.namespace
        assert namespace is not None
        with pytest.raises(Exception, match="CREATE_TABLE_DIRECT_WITH_WRITE_DELEGATION"):
            writing.create_table((namespace, "events"), schema=schema())
        admin.grant(catalog, f"floe_content_{suffix}", "CATALOG_MANAGE_CONTENT",
                    principal_role=f"floe_writers_{suffix}")
        table = writing.create_table((namespace, "events"), schema=schema())
        table.append(rows(1, 2))

        reading = make_catalog(reader_config)
        loaded = reading.load_table((namespace, "events"))
        assert loaded.scan().to_arrow().num_rows == 2
        with pytest.raises(OSError, match="ACCESS_DENIED"):
            loaded.append(rows(3))  # its vended keys read the table, they write nothing
        with pytest.raises(Exception, match="op LIST_NAMESPACES"):
            reading.list_namespaces()

    # a token scope that activates no principal role holding the grant is refused too
    scoped = as_principal(polaris_config, writer_config.credential.get_secret_value(),
                          scope=f"PRINCIPAL_ROLE:floe_readers_{suffix}")
    assert "op LIST_NAMESPACES" in service_health(PolarisFixture(scoped)).reason


def second_catalog(name: str, location: str, s3_endpoint: str, **properties: str) -> dict:
    definition = pb.catalog_definition(name, bucket=ICEBERG_BUCKET, s3_endpoint=s3_endpoint,
                                       region="us-east-1")
    definition["properties"] = {"default-base-location": location, **properties}
    definition["storageConfigInfo"]["allowedLocations"] = [location + "/"]
    return definition


def stack_s3_endpoint(admin: PolarisAdmin, catalog: str) -> str:
    reply = admin.call("GET", f"/catalogs/{catalog}")
    return str(reply.body["storageConfigInfo"]["endpointInternal"])


def test_a_catalog_whose_locations_overlap_another_is_refused(
    polaris_config: PolarisConfig, admin: PolarisAdmin, suffix: str
) -> None:
    endpoint = stack_s3_endpoint(admin, polaris_config.warehouse)
    whole_bucket = second_catalog(f"floe_whole_{suffix}", f"s3://{ICEBERG_BUCKET}/team",
                                  endpoint)
    whole_bucket["storageConfigInfo"]["allowedLocations"] = [f"s3://{ICEBERG_BUCKET}/"]
    with pytest.raises(PolarisCallError) as refused:
        admin.create_catalog(whole_bucket)
    assert "400" in str(refused.value)
    assert "overlaps with an existing catalog" in str(refused.value)
    inside = second_catalog(f"floe_inside_{suffix}",
                            f"s3://{ICEBERG_BUCKET}/{polaris_config.warehouse}/team", endpoint)
    with pytest.raises(PolarisCallError, match="overlaps"):
        admin.create_catalog(inside)


def test_purge_is_refused_unless_the_catalog_enables_it(
    polaris_config: PolarisConfig, admin: PolarisAdmin, suffix: str
) -> None:
    """A second catalog in the stack's bucket, at its own prefix (the bootstrap leaves room
    for it), without polaris.config.drop-with-purge.enabled: the fixture's test passes, its
    cleanup drops table and namespace without purge and fails naming the setting."""
    name = f"floe_team_{suffix}"
    endpoint = stack_s3_endpoint(admin, polaris_config.warehouse)
    admin.create_catalog(second_catalog(name, f"s3://{ICEBERG_BUCKET}/{name}", endpoint))
    admin.grant(name, f"floe_content_{suffix}", "CATALOG_MANAGE_CONTENT",
                principal_role="service_admin")
    config = polaris_config.model_copy(update={"warehouse": name})
    used: list[str] = []
    with pytest.raises(CleanupError) as refused:
        write_a_table(PolarisFixture(config), f"s3://{ICEBERG_BUCKET}/{name}/", used)
    [namespace] = used
    message = str(refused.value)
    assert "polaris.config.drop-with-purge.enabled" in message
    assert f"{namespace}.events" in message
    assert not make_catalog(config).namespace_exists(namespace), "the namespace is dropped"


def write_a_table(helper: PolarisFixture, location: str, used: list[str]) -> None:
    """A test's body that passes: a table with a row, at the catalog's location."""
    with helper as catalog:
        assert helper.namespace is not None
        used.append(helper.namespace)
        table = catalog.create_table((helper.namespace, "events"), schema=schema())
        table.append(rows(1))
        assert table.location().startswith(location)


def test_a_realm_polaris_does_not_serve_names_polaris_realm(
    polaris_config: PolarisConfig,
) -> None:
    assert polaris_config.realm, "the stack's Secret names the realm"
    assert service_health(PolarisFixture(polaris_config)).healthy
    wrong = polaris_config.model_copy(update={"realm": f"NOT_{polaris_config.realm}"})
    health = service_health(PolarisFixture(wrong))
    assert not health.healthy
    assert "MissingOrInvalidRealm" in health.reason
    assert "POLARIS_REALM" in health.reason
    bootstrap = pb.PolarisAdmin(polaris_config.uri.removesuffix("/api/catalog"),
                                f"NOT_{polaris_config.realm}")
    client_id, _, secret = polaris_config.credential.get_secret_value().partition(":")
    with pytest.raises(pb.BootstrapError, match=pb.ENV_REALM):
        bootstrap.get_token(client_id, secret)


def test_vended_credentials_are_short_lived_and_scoped_to_the_table(
    polaris_catalog: RestCatalog, polaris_namespace: str, minio_config: MinIOConfig,
) -> None:
    import pyarrow.parquet as pq
    from minio import Minio
    from minio.error import S3Error

    table = polaris_catalog.create_table((polaris_namespace, "orders"), schema=schema())
    table.append(rows(1, 2, 3))
    vended = polaris_catalog.load_table((polaris_namespace, "orders")).io.properties
    assert vended["s3.session-token"]
    assert vended["s3.access-key-id"] != minio_config.access_key, "not MinIO's own keys"
    lifetime = int(vended["s3.session-token-expires-at-ms"]) / 1000 - time.time()
    assert 3000 < lifetime <= 3600, lifetime

    root = Minio(minio_config.netloc, access_key=minio_config.access_key,
                 secret_key=minio_config.secret_key.get_secret_value(),
                 secure=minio_config.use_tls, region=minio_config.region)
    landing = f"raw/{polaris_namespace}/orders.parquet"
    data = io.BytesIO()
    pq.write_table(rows(4), data)
    root.put_object(LANDING_BUCKET, landing, io.BytesIO(data.getvalue()), len(data.getvalue()))
    try:
        # a common step: register landed files; Polaris' keys do not reach the landing bucket
        with pytest.raises(OSError, match="ACCESS_DENIED"):
            table.add_files([f"s3://{LANDING_BUCKET}/{landing}"])
        scoped = Minio(minio_config.netloc, access_key=vended["s3.access-key-id"],
                       secret_key=vended["s3.secret-access-key"],
                       session_token=vended["s3.session-token"], secure=minio_config.use_tls,
                       region=minio_config.region)
        prefix = table.location().split(f"{ICEBERG_BUCKET}/", 1)[1] + "/"
        own = [o.object_name for o in scoped.list_objects(ICEBERG_BUCKET, prefix=prefix,
                                                          recursive=True)]
        assert any(name.endswith(".parquet") for name in own), own
        with pytest.raises(S3Error, match="AccessDenied"):
            list(scoped.list_objects(ICEBERG_BUCKET, prefix="", recursive=False))
        with pytest.raises(S3Error, match="AccessDenied"):
            scoped.stat_object(LANDING_BUCKET, landing)
    finally:
        root.remove_object(LANDING_BUCKET, landing)


def test_generic_tables_go_with_the_namespace(polaris_config: PolarisConfig) -> None:
    helper = PolarisFixture(polaris_config)
    with helper as catalog:
        namespace = helper.namespace
        url = (f"{catalog.uri}/polaris/v1/{catalog.properties['prefix']}/namespaces/"
               f"{namespace}/generic-tables")
        created = catalog._session.post(url, json={"name": "raw_events", "format": "delta"})
        assert created.status_code == 200, created.text
        listed = catalog._session.get(url).json()["identifiers"]
        assert [ident["name"] for ident in listed] == ["raw_events"]
    assert not make_catalog(polaris_config).namespace_exists(namespace)
