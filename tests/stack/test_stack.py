"""001-FR-027: the default stack packaged with floe-testing, brought up by the plugin on plain
``pytest``, used through the real fixtures with their defaults (credentials come from the
stack's Secrets). Every service runs for real: see conftest.py for where its images come from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from floe_testing.fixtures.dagster import run_dagster_job
from floe_testing.models import PollingConfig

if TYPE_CHECKING:
    from dagster_graphql import DagsterGraphQLClient
    from psycopg2.extensions import connection
    from pyiceberg.catalog.rest import RestCatalog

    from floe_testing.fixtures.minio_tracking import TrackingMinio
    from floe_testing.service_configs import MinIOConfig

pytestmark = [pytest.mark.stack, pytest.mark.requirement("001-FR-027")]

#: Created by the minio-buckets Job (the packaged manifests/minio.yaml).
STACK_BUCKETS = {"floe-warehouse", "floe-iceberg", "floe-artifacts"}
#: The job of the packaged Dagster code location (manifests/dagster.yaml).
STACK_JOB = "floe_stack_smoke"


def test_postgres_runs_sql(postgres_connection: connection) -> None:
    with postgres_connection.cursor() as cur:
        cur.execute("CREATE TABLE events (id integer PRIMARY KEY, name text NOT NULL)")
        cur.execute("INSERT INTO events VALUES (1, 'created'), (2, 'updated')")
        cur.execute("SELECT count(*), max(name) FROM events")
        assert cur.fetchone() == (2, "updated")
    postgres_connection.commit()


def test_postgres_has_the_database_dagster_uses(postgres_connection: connection) -> None:
    with postgres_connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'dagster'")
        assert cur.fetchone() == (1,), "the init script (ConfigMap postgres-init) did not run"


def test_minio_has_the_stack_buckets(minio_client: TrackingMinio) -> None:
    names = {bucket.name for bucket in minio_client.list_buckets()}
    assert names >= STACK_BUCKETS, f"missing buckets: {sorted(STACK_BUCKETS - names)}"


def test_polaris_creates_appends_and_scans_a_table(
    polaris_catalog: RestCatalog, polaris_namespace: str, minio_config: MinIOConfig,
) -> None:
    import pyarrow as pa

    # Polaris vends short-lived MinIO credentials but knows only MinIO's in-cluster address;
    # in cluster mode the fixture points table I/O at the MinIO port-forward by itself.
    assert polaris_catalog.properties["s3.endpoint"] == minio_config.endpoint
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])
    table = polaris_catalog.create_table((polaris_namespace, "events"), schema=schema)
    assert table.metadata_location.startswith("s3://floe-iceberg/"), table.metadata_location

    table.append(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}, schema=schema))
    rows = table.scan().to_arrow().sort_by("id")
    assert rows["id"].to_pylist() == [1, 2, 3]
    assert rows["name"].to_pylist() == ["a", "b", "c"]

    reloaded = polaris_catalog.load_table((polaris_namespace, "events"))
    assert reloaded.current_snapshot() is not None
    assert (polaris_namespace, "events") in polaris_catalog.list_tables(polaris_namespace)


def test_dagster_runs_the_stack_job_to_success(dagster_client: DagsterGraphQLClient) -> None:
    status = run_dagster_job(dagster_client, STACK_JOB,
                             polling=PollingConfig(timeout=300, interval=1.0))
    assert status == "SUCCESS"
