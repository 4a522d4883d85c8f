"""001-FR-021: ``minio_client`` buckets made during a test are emptied and deleted after it."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from minio import Minio

from floe_testing.naming import unique_bucket_name
from floe_testing.services.minio.config import MinIOConfig
from floe_testing.services.minio.tracking import TrackingMinio
from support.checks import AfterTeardown
from support.inner_pytest import run_inner_pytest
from support.s3_server import LocalS3

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-021")]

MIB = 1024 * 1024


@pytest.fixture
def other_client(local_s3: LocalS3) -> Minio:
    """A client the fixture knows nothing about: an independent view of the server."""
    return Minio(
        f"{local_s3.host}:{local_s3.port}", access_key=local_s3.access_key,
        secret_key=local_s3.secret_key, secure=False, region="us-east-1",
    )


def bucket_gone(client: Minio, bucket: str) -> bool:
    return not client.bucket_exists(bucket)


def test_objects_round_trip_and_the_bucket_is_removed_after(
    minio_client: TrackingMinio, other_client: Minio, after_teardown: AfterTeardown
) -> None:
    bucket = unique_bucket_name("it-roundtrip")
    minio_client.make_bucket(bucket)
    assert minio_client.bucket_exists(bucket)

    for key, body in {"a/one.txt": b"one", "a/two.txt": b"two", "b/three.txt": b"three"}.items():
        minio_client.put_object(bucket, key, io.BytesIO(body), len(body))
    response = minio_client.get_object(bucket, "a/two.txt")
    try:
        assert response.read() == b"two"
    finally:
        response.close()
        response.release_conn()
    listed = sorted(o.object_name or "" for o in minio_client.list_objects(bucket, recursive=True))
    assert listed == ["a/one.txt", "a/two.txt", "b/three.txt"]
    under_a = sorted(o.object_name or "" for o in minio_client.list_objects(bucket, prefix="a/"))
    assert under_a == ["a/one.txt", "a/two.txt"]
    assert minio_client.stat_object(bucket, "b/three.txt").size == 5

    after_teardown.check(f"bucket {bucket} removed", lambda: bucket_gone(other_client, bucket))


def test_multipart_object(minio_client: TrackingMinio, minio_bucket: str) -> None:
    data = os.urandom(6 * MIB)  # above the 5 MiB part size: uploaded in two parts
    minio_client.put_object(minio_bucket, "big.bin", io.BytesIO(data), len(data), part_size=5 * MIB)
    assert minio_client.stat_object(minio_bucket, "big.bin").size == len(data)
    response = minio_client.get_object(minio_bucket, "big.bin")
    try:
        assert hashlib.sha256(response.read()).digest() == hashlib.sha256(data).digest()
    finally:
        response.close()
        response.release_conn()


def test_minio_bucket_is_fresh_and_removed_with_its_objects(
    minio_client: TrackingMinio,
    minio_bucket: str,
    other_client: Minio,
    after_teardown: AfterTeardown,
) -> None:
    assert other_client.bucket_exists(minio_bucket)
    assert list(minio_client.list_objects(minio_bucket)) == []
    minio_client.put_object(minio_bucket, "x.txt", io.BytesIO(b"x"), 1)
    after_teardown.check(
        f"bucket {minio_bucket} removed", lambda: bucket_gone(other_client, minio_bucket)
    )


def test_buckets_made_by_another_client_survive(
    minio_client: TrackingMinio, other_client: Minio, after_teardown: AfterTeardown
) -> None:
    foreign = unique_bucket_name("it-foreign")
    other_client.make_bucket(foreign)
    other_client.put_object(foreign, "keep.txt", io.BytesIO(b"keep"), 4)
    own = unique_bucket_name("it-own")
    minio_client.make_bucket(own)
    minio_client.put_object(own, "drop.txt", io.BytesIO(b"drop"), 4)
    assert minio_client.created_buckets == [own]

    def foreign_survived() -> bool:
        try:
            return other_client.stat_object(foreign, "keep.txt").size == 4
        finally:
            other_client.remove_object(foreign, "keep.txt")
            other_client.remove_bucket(foreign)

    after_teardown.check(f"bucket {own} removed", lambda: bucket_gone(other_client, own))
    after_teardown.check(f"foreign bucket {foreign} kept with its object", foreign_survived)


def test_uses_the_endpoint_and_keys_from_env(
    minio_client: TrackingMinio, minio_config: MinIOConfig, local_s3: LocalS3
) -> None:
    assert minio_config.endpoint == local_s3.endpoint
    assert minio_config.access_key == local_s3.access_key
    assert minio_config.secret_key.get_secret_value() == local_s3.secret_key
    assert isinstance(minio_client.list_buckets(), list)


def test_buckets_are_removed_whether_the_test_passes_or_fails(
    local_s3: LocalS3, other_client: Minio, tmp_path: Path
) -> None:
    run = run_inner_pytest(
        tmp_path,
        """
        import io

        from conftest import record
        from floe_testing.naming import unique_bucket_name

        def fill(client, name):
            client.make_bucket(name)
            for i in range(3):
                client.put_object(name, f"obj-{i}", io.BytesIO(b"data"), 4)
            record("bucket", name)

        def test_passes(minio_client):
            fill(minio_client, unique_bucket_name("inner-pass"))

        def test_fails(minio_client, minio_bucket):
            record("bucket", minio_bucket)
            minio_client.put_object(minio_bucket, "x", io.BytesIO(b"x"), 1)
            fill(minio_client, unique_bucket_name("inner-fail"))
            assert False, "the test body fails on purpose"
        """,
    )
    assert run.outcomes == {"test_passes": "passed", "test_fails": "failed"}, run.describe()
    buckets = run.recorded("bucket")
    assert len(buckets) == 3, run.describe()
    left = [b for b in buckets if other_client.bucket_exists(b)]
    assert left == [], f"buckets left behind: {left}"
