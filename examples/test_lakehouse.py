"""What a floe user's integration tests look like: raw files land in MinIO, become an Iceberg
table through the catalog (data on MinIO), are queried with DuckDB, a Dagster job loads
orders into PostgreSQL, and the pipeline's watermark is cached in Redis (a service this
project declares itself, conftest.py). Only the public API and the packaged stack are used;
plain ``pytest`` brings the stack up (kind, or a cluster named by KUBECONFIG) and takes it
down again.
"""

from __future__ import annotations

import io
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pyarrow.csv
import pytest

from floe_testing import (
    IntegrationTestBase,
    PollingConfig,
    ServiceRequirement,
    run_dagster_job,
    wait_for_condition,
)

if TYPE_CHECKING:
    import duckdb
    import redis
    from dagster_graphql import DagsterGraphQLClient
    from minio import Minio
    from psycopg2.extensions import connection
    from pyiceberg.catalog.rest import RestCatalog

    from floe_testing import EndpointConfig
    from floe_testing.cluster.session import ClusterSession

RAW_ORDERS = b"id,customer,amount\n1,ada,12.5\n2,grace,30.0\n3,ada,7.5\n"
#: Buckets the stack creates (its minio-buckets Job)
STACK_BUCKETS = {"floe-warehouse", "floe-iceberg", "floe-artifacts"}


@pytest.mark.requirement("001-FR-021")
def test_raw_files_land_in_minio(minio_client: Minio, minio_bucket: str) -> None:
    minio_client.put_object(minio_bucket, "raw/orders.csv", io.BytesIO(RAW_ORDERS),
                            len(RAW_ORDERS), content_type="text/csv")
    listed = [o.object_name for o in minio_client.list_objects(minio_bucket, prefix="raw/")]
    assert listed == ["raw/orders.csv"]
    assert minio_client.get_object(minio_bucket, "raw/orders.csv").read() == RAW_ORDERS


@pytest.mark.requirement("001-FR-022", "001-FR-023")
def test_raw_orders_become_an_iceberg_table_queried_with_duckdb(
    minio_client: Minio, minio_bucket: str, polaris_catalog: RestCatalog,
    polaris_namespace: str, duckdb_connection: duckdb.DuckDBPyConnection,
) -> None:
    minio_client.put_object(minio_bucket, "raw/orders.csv", io.BytesIO(RAW_ORDERS),
                            len(RAW_ORDERS))
    raw = minio_client.get_object(minio_bucket, "raw/orders.csv").read()
    orders = pyarrow.csv.read_csv(io.BytesIO(raw))

    table = polaris_catalog.create_table((polaris_namespace, "orders"), schema=orders.schema)
    assert table.metadata_location.startswith("s3://floe-iceberg/")  # data lives on MinIO
    table.append(orders)
    table.append(orders.slice(0, 1))
    assert len(table.snapshots()) == 2

    scanned = polaris_catalog.load_table((polaris_namespace, "orders")).scan().to_arrow()
    assert scanned.num_rows == 4
    duckdb_connection.register("orders", scanned)
    totals = duckdb_connection.execute(
        "SELECT customer, sum(amount) FROM orders GROUP BY customer ORDER BY customer"
    ).fetchall()
    assert totals == [("ada", 32.5), ("grace", 30.0)]


@pytest.mark.requirement("001-FR-020", "001-FR-024")
def test_dagster_job_loads_orders_into_postgres(
    dagster_client: DagsterGraphQLClient, postgres_connection: connection,
) -> None:
    database = postgres_connection.info.dbname  # created for this test, dropped after it
    status = run_dagster_job(
        dagster_client, "load_orders_job",
        run_config={"ops": {"load_orders": {"config": {"database": database, "count": 4}}}})
    assert status == "SUCCESS"
    with postgres_connection.cursor() as cur:
        cur.execute("SELECT count(*), sum(amount) FROM orders")
        assert cur.fetchone() == (4, 100)


class TestCatalogOnObjectStore(IntegrationTestBase):
    """Both services are checked before each test; a missing one fails with a fix hint."""

    required_services: ClassVar[list[ServiceRequirement]] = [
        ServiceRequirement(name="polaris", port=8181),
        ServiceRequirement(name="minio", port=9000),
    ]

    @pytest.mark.requirement("001-FR-027", "001-FR-032", "001-FR-034")
    def test_the_stack_buckets_exist(self, minio_client: Minio) -> None:
        names = {bucket.name for bucket in minio_client.list_buckets()}
        assert names >= STACK_BUCKETS, f"missing: {sorted(STACK_BUCKETS - names)}"

    @pytest.mark.requirement("001-FR-033", "001-FR-034")
    def test_scratch_namespace_is_cleaned_up(self, polaris_catalog: RestCatalog) -> None:
        namespace = self.namespace  # unique per test: "test_<uuid8>"
        polaris_catalog.create_namespace(namespace)
        self.add_cleanup(lambda: polaris_catalog.drop_namespace(namespace), "drop namespace")
        assert (namespace,) in polaris_catalog.list_namespaces()



@pytest.mark.requirement("001-FR-025")
def test_the_pipelines_watermark_is_cached_in_redis(redis_client: redis.Redis) -> None:
    redis_client.set("orders:watermark", "2026-12-05T00:00:00Z")
    assert redis_client.get("orders:watermark") == b"2026-12-05T00:00:00Z"


@pytest.mark.requirement("001-FR-009")
def test_redis_carries_on_after_its_forward_restarts(
    redis_client: redis.Redis, floe_cluster: ClusterSession,
) -> None:
    redis_client.set("restarts", "before")
    # none inside the cluster (--floe-in-cluster): there the Service's DNS name is used
    for forward in [f for f in floe_cluster.forwards.values() if "svc/redis" in f.target]:
        port, pid = forward.local_port, forward.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the forward's kubectl dies mid-test
        wait_for_condition(lambda pid=pid: not Path(f"/proc/{pid}").exists(),
                           PollingConfig(timeout=10, interval=0.1, description="kubectl gone"))
        assert redis_client.get("restarts") == b"before"  # the same address, a new kubectl
        assert (forward.local_port, forward.pid != pid) == (port, True)
    assert redis_client.get("restarts") == b"before"


@pytest.mark.requirement("001-FR-026")
def test_redis_password_is_masked_in_the_log(
    redis_config: EndpointConfig, caplog: pytest.LogCaptureFixture,
) -> None:
    password = redis_config.password.get_secret_value()
    logging.getLogger("pipeline").warning("connecting to redis with %s", password)
    assert password not in caplog.text
    assert "connecting to redis with ***" in caplog.text
