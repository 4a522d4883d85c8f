"""Leftovers of runs that died are collected at session start; resources of live runs stay."""

from __future__ import annotations

import io
import socket
import subprocess
from pathlib import Path

import pytest
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

from floe_testing.naming import short_uid
from floe_testing.run_identity import Owner, current_owner, process_space
from floe_testing.services.minio.config import MinIOConfig
from floe_testing.services.minio.helper import OWNER_TAG, empty_and_remove_bucket, make_client
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.polaris.helper import (
    OWNER_PROPERTY,
    drop_namespace_with_tables,
    make_catalog,
)
from floe_testing.services.postgres.config import PostgresConfig
from floe_testing.services.postgres.helper import connect
from support.inner_pytest import run_inner_pytest
from support.postgres_server import LocalPostgres

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-052")]


def dead_owner_tag() -> str:
    """The tag of a process that has certainly exited (and been reaped)."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    return Owner("deadbeef0000", socket.gethostname(), finished.pid, process_space()).tag()


def test_dead_runs_resources_are_collected_live_ones_kept(
    local_postgres: LocalPostgres, postgres_config: PostgresConfig,
    minio_config: MinIOConfig, polaris_config: PolarisConfig, tmp_path: Path,
) -> None:
    dead_tag, live_tag = dead_owner_tag(), current_owner().tag()
    uid = short_uid()
    dbs = {"dead": f"leftover_dead_{uid}", "live": f"leftover_live_{uid}"}
    buckets = {"dead": f"leftover-dead-{uid}", "live": f"leftover-live-{uid}"}
    namespaces = {"dead": f"leftover_dead_{uid}", "live": f"leftover_live_{uid}"}
    tags = {"dead": dead_tag, "live": live_tag}

    admin = connect(postgres_config)  # as the fixture's user, who owns real leftovers
    admin.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    client = make_client(minio_config)
    catalog = make_catalog(polaris_config)
    try:
        with admin.cursor() as cur:
            for key, db in dbs.items():
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
                cur.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(db), sql.Literal(tags[key])))
        for key, bucket in buckets.items():
            client.make_bucket(bucket)
            bucket_tags = client.get_bucket_tags(bucket)
            assert bucket_tags is not None
            bucket_tags[OWNER_TAG] = tags[key]
            client.set_bucket_tags(bucket, bucket_tags)
            client.put_object(bucket, "x", io.BytesIO(b"x"), 1)
        for key, ns in namespaces.items():
            catalog.create_namespace(ns, {OWNER_PROPERTY: tags[key]})

        run = run_inner_pytest(tmp_path, """
            def test_uses_every_service(postgres_connection, minio_client, polaris_catalog):
                pass
        """, args=("-s",))
        assert run.outcomes == {"test_uses_every_service": "passed"}, run.output
        assert f"collected 1 leftover databases of dead runs: {dbs['dead']}" in run.output
        assert f"collected 1 leftover buckets of dead runs: {buckets['dead']}" in run.output
        assert (f"collected 1 leftover Iceberg namespaces of dead runs: {namespaces['dead']}"
                in run.output), run.output

        assert not local_postgres.database_exists(dbs["dead"])
        assert local_postgres.database_exists(dbs["live"]), "a live run's database was taken"
        assert not client.bucket_exists(buckets["dead"])
        assert client.bucket_exists(buckets["live"])
        assert not catalog.namespace_exists(namespaces["dead"])
        assert catalog.namespace_exists(namespaces["live"])
    finally:
        with admin.cursor() as cur:
            for db in dbs.values():
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(db)))
        admin.close()
        for bucket in buckets.values():
            empty_and_remove_bucket(client, bucket)
        for ns in namespaces.values():
            if catalog.namespace_exists(ns):
                drop_namespace_with_tables(catalog, ns)
