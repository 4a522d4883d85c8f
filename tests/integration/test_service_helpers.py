"""001-FR-061: every service as a helper usable without pytest. A plain Python script (no
pytest in the process) opens each helper against the tier's real servers, configured by env
vars as a user's script would be; what it created exists while open and is gone after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from minio import Minio

from floe_testing.services.dagster.config import DagsterConfig
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.polaris.helper import make_catalog
from floe_testing.services.postgres.config import PostgresConfig
from floe_testing.services.postgres.helper import connect
from support.s3_server import LocalS3

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-061")]

SCRIPT = """
    import io, json, sys
    from floe_testing import (DagsterFixture, DuckDBFixture, MinIOFixture, PolarisFixture,
                              PostgresFixture, ServiceFixture, check_service_health)

    seen = {"health": {}}
    for helper in (PostgresFixture(), MinIOFixture(), PolarisFixture(), DuckDBFixture(),
                   DagsterFixture()):
        assert isinstance(helper, ServiceFixture), helper
        seen["health"][helper.service_name] = check_service_health(helper)

    postgres = PostgresFixture(database_prefix="script")
    with postgres as conn:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (7); SELECT x FROM t")
            seen["postgres_row"] = cur.fetchone()[0]
        seen["database"] = postgres.database

    with MinIOFixture() as s3:
        s3.make_bucket("script-bucket-" + seen["database"][-8:].replace("_", "-"))
        bucket = s3.created_buckets[0]
        s3.put_object(bucket, "k", io.BytesIO(b"v"), 1)
        seen["object"] = s3.get_object(bucket, "k").read().decode()
        seen["bucket"] = bucket

    polaris = PolarisFixture(label="a script")
    with polaris as catalog:
        seen["namespace"] = polaris.namespace
        seen["listed"] = [".".join(n) for n in catalog.list_namespaces()]

    generator = DagsterFixture()()  # the protocol's own form
    client = next(generator)
    seen["dagster_client"] = type(client).__name__
    generator.close()
    print(json.dumps(seen))
"""


def test_helpers_work_in_a_plain_script_and_clean_up(
    postgres_config: PostgresConfig, local_s3: LocalS3, polaris_config: PolarisConfig,
    dagster_config: DagsterConfig, duckdb_config: object, tmp_path: Path,
) -> None:
    script = tmp_path / "use_helpers.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    assert seen["health"] == {"postgres": True, "minio": True, "polaris": True, "duckdb": True,
                              "dagster-webserver": True}
    assert seen["postgres_row"] == 7
    assert seen["object"] == "v"
    assert seen["namespace"] in seen["listed"]
    assert seen["dagster_client"] == "DagsterGraphQLClient"

    # everything the helpers made is gone now that they are closed
    admin = connect(postgres_config)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                        (seen["database"],))
            assert cur.fetchone() == (0,)
    finally:
        admin.close()
    s3 = Minio(f"{local_s3.host}:{local_s3.port}", access_key=local_s3.access_key,
               secret_key=local_s3.secret_key, secure=False, region="us-east-1")
    assert not s3.bucket_exists(seen["bucket"])
    names = [".".join(n) for n in make_catalog(polaris_config).list_namespaces()]
    assert seen["namespace"] not in names
