"""001-FR-027: the default stack packaged with floe-testing, brought up by the plugin on plain
``pytest``, used through the real fixtures with their defaults (credentials come from the
stack's Secrets). Every service runs for real: see conftest.py for where its images come from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from floe_testing.polling import PollingConfig
from floe_testing.services.dagster.helper import run_dagster_job

if TYPE_CHECKING:
    from dagster_graphql import DagsterGraphQLClient
    from psycopg2.extensions import connection
    from pyiceberg.catalog.rest import RestCatalog

    from floe_testing.cluster.session import ClusterSession
    from floe_testing.services.minio.config import MinIOConfig
    from floe_testing.services.minio.tracking import TrackingMinio
    from floe_testing.services.postgres.config import PostgresConfig

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


@pytest.mark.requirement("001-FR-009")
def test_every_client_carries_on_after_its_forward_is_killed(
    floe_cluster: ClusterSession, minio_client: TrackingMinio, minio_bucket: str,
    polaris_catalog: RestCatalog, dagster_client: DagsterGraphQLClient,
    postgres_config: PostgresConfig, postgres_connection: connection,
) -> None:
    """Each forward's kubectl is killed mid-test: the local addresses stay, and the next call
    of every client succeeds, an S3 PUT on a pooled keep-alive connection first (the cut
    connection is retried on a new one, relayed to the restarted kubectl). PostgreSQL's session
    dies with its TCP stream, as with any network cut; a new connection to the same address
    works, and the fixture's teardown closes the cut one and drops its database through a new
    one."""
    import io
    import os
    import signal

    from floe_testing.polling import wait_for_condition
    from floe_testing.services.postgres.helper import connect

    def query_postgres() -> int:
        conn = connect(postgres_config)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 41 + 1")
                return int(cur.fetchone()[0])
        finally:
            conn.close()

    def use_every_client() -> None:
        minio_client.put_object(minio_bucket, "k", io.BytesIO(b"x"), 1)  # the first call
        assert {b.name for b in minio_client.list_buckets()} >= STACK_BUCKETS
        assert polaris_catalog.list_namespaces() is not None
        assert run_dagster_job(dagster_client, STACK_JOB) == "SUCCESS"
        assert query_postgres() == 42

    with postgres_connection.cursor() as cur:  # the test's own session, cut below
        cur.execute("SELECT 1")
    use_every_client()  # every client has a live (pooled) connection through its forward
    forwards = list(floe_cluster.forwards.values())
    before = {str(f): (f.local_port, f.pid, f.restarts) for f in forwards}
    assert len(forwards) >= 4, before
    for forward in forwards:
        assert forward.pid is not None
        os.kill(forward.pid, signal.SIGKILL)
    for forward, (_, pid, _) in zip(forwards, before.values(), strict=True):
        wait_for_condition(lambda p=pid: not os.path.exists(f"/proc/{p}"),
                           PollingConfig(timeout=10, interval=0.1,
                                         description=f"kubectl {pid} of {forward} gone"))

    use_every_client()
    for forward in forwards:
        port, pid, restarts = before[str(forward)]
        assert forward.local_port == port, f"{forward}: the address changed"
        assert forward.pid != pid, forward
        assert forward.restarts > restarts, forward
