"""MinIO (any S3 server), declared: the Service ``minio:9000`` of the stack (console 9001), its
Secret ``minio-credentials``; ``minio_config``, ``minio_client`` (buckets it makes are removed
after the test) and ``minio_bucket``. The config is :mod:`.config`, the helper :mod:`.helper`."""

from __future__ import annotations

from typing import Any

import pytest

from floe_testing.services.fixtures import service_fixtures
from floe_testing.services.minio.service import SERVICE

minio_config, minio_client = service_fixtures(SERVICE)


@pytest.fixture(scope="session")
def _floe_minio_sweep(minio_config: Any, pytestconfig: pytest.Config) -> None:
    """Once per session: remove buckets whose creating process is gone."""
    from floe_testing.services.minio.helper import sweep_dead_buckets

    sweep_dead_buckets(minio_config, pytestconfig)


@pytest.fixture
def minio_bucket(minio_client: Any, minio_config: Any, request: pytest.FixtureRequest) -> str:
    """A fresh, uniquely named bucket, removed with its objects after the test."""
    from floe_testing.errors import failing_on_one_screen
    from floe_testing.services.minio.helper import make_test_bucket

    with failing_on_one_screen():
        return make_test_bucket(minio_client, minio_config, request.node.name)
