"""MinIO's helper: :class:`MinIOFixture` (usable without pytest), the client with bounded
timeouts and retries of connections a restarted forward cut, bucket cleanup, and the sweep of
dead runs' buckets."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Self

from floe_testing.errors import CleanupError
from floe_testing.leftovers import dead, sweep
from floe_testing.naming import unique_bucket_name
from floe_testing.service_fixture import ServiceContext
from floe_testing.services.configs import config_from_env
from floe_testing.services.helper import raise_unusable, settings_hint
from floe_testing.services.minio.service import SERVICE

if TYPE_CHECKING:
    from types import TracebackType

    import pytest
    import urllib3
    from minio import Minio
    from minio.datatypes import Bucket
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

    from floe_testing.service_fixture import ServiceFixture
    from floe_testing.services.minio.config import MinIOConfig
    from floe_testing.services.minio.tracking import TrackingMinio

OWNER_TAG = "floe-testing-owner"


def _retries_of_cut_connections() -> type[urllib3.Retry]:
    """urllib3's retry policy, with one difference: a request whose pooled keep-alive
    connection was cut (a restarted forward, a restarted pod: ``RemoteDisconnected``) is sent
    again on a new connection, whatever its method (S3's PUTs are idempotent); a read that
    timed out is not retried, so a server that never answers fails in one read timeout."""
    import urllib3
    from urllib3.exceptions import ReadTimeoutError

    class RetryCutConnections(urllib3.Retry):
        def increment(self, method: str | None = None, url: str | None = None,
                      response: BaseHTTPResponse | None = None,
                      error: Exception | None = None, _pool: ConnectionPool | None = None,
                      _stacktrace: TracebackType | None = None) -> Self:
            if isinstance(error, ReadTimeoutError):
                raise error
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return RetryCutConnections


def make_client(config: MinIOConfig) -> TrackingMinio:
    """A client for ``config``; the region is set so no location lookup is needed. Its HTTP
    pool has bounded connect and read timeouts (:class:`ClientTimeouts`), and a read that
    timed out is not retried, so a server that never answers fails in one read timeout
    instead of minio's default five minutes times five retries."""
    import urllib3

    from floe_testing.services.minio.tracking import TrackingMinio
    from floe_testing.services.settings import ClientTimeouts

    bounds = ClientTimeouts()
    pool = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=bounds.connect_timeout, read=bounds.read_timeout),
        retries=_retries_of_cut_connections()(
            total=4, connect=2, read=2, redirect=0, status=2, allowed_methods=None,
            backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return TrackingMinio(
        config.netloc,
        access_key=config.access_key,
        secret_key=config.secret_key.get_secret_value(),
        secure=config.use_tls,
        region=config.region,
        http_client=pool,
    )

def empty_and_remove_bucket(client: Minio, bucket: str) -> None:
    """Delete every object (and version) in ``bucket``, then the bucket itself."""
    from minio.deleteobjects import DeleteObject

    if not client.bucket_exists(bucket):
        return
    to_delete = [
        DeleteObject(obj.object_name, obj.version_id)
        for obj in client.list_objects(bucket, recursive=True, include_version=True)
        if obj.object_name is not None
    ]
    errors = list(client.remove_objects(bucket, to_delete)) if to_delete else []
    if errors:
        raise RuntimeError(f"could not empty bucket {bucket!r}: {errors[0]}")
    client.remove_bucket(bucket)

def _list_buckets(client: Minio, config: MinIOConfig) -> list[Bucket]:
    """The buckets, or a one-screen failure naming the endpoint: a raw traceback would show
    the client library's locals, the secret key among them, under ``--showlocals``."""
    try:
        buckets: list[Bucket] = client.list_buckets()
    except Exception as exc:  # noqa: BLE001 - any failure here means "not reachable"
        raise_unusable(
            f"S3 (MinIO, access key {config.access_key!r})", config, config.endpoint, exc,
            f"that the endpoint is an S3 server and answers ({settings_hint(SERVICE)}).")
    return buckets


def sweep_dead_buckets(config: MinIOConfig, pytestconfig: pytest.Config) -> None:
    """Remove buckets whose creating process is gone."""
    client = make_client(config)
    candidates = []
    for bucket in _list_buckets(client, config):
        try:
            tags = client.get_bucket_tags(bucket.name)
        except Exception:  # noqa: BLE001, S112 - untagged or foreign bucket: not ours to judge
            continue
        candidates.append((bucket.name, str(tags[OWNER_TAG]) if tags and OWNER_TAG in tags
                           else None))
    sweep(pytestconfig, "buckets", dead(candidates),
          lambda name: empty_and_remove_bucket(client, name))


def make_test_bucket(client: TrackingMinio, config: MinIOConfig, test_name: str) -> str:
    """A fresh, uniquely named bucket for a test (removed with the client's others); a server
    that refuses (403: the key may not create buckets) or stops answering fails on one
    screen."""
    name = unique_bucket_name(f"test-{test_name}"[:40])
    try:
        client.make_bucket(name)
    except Exception as exc:  # noqa: BLE001 - any failure: the bucket is not there
        raise_unusable(
            f"S3 (MinIO, access key {config.access_key!r}) creating bucket {name!r}", config,
            config.endpoint, exc,
            "that the access key may create buckets and the server answers "
            f"({settings_hint(SERVICE)}).")
    return name


class MinIOFixture(ServiceContext["TrackingMinio"]):
    """MinIO (any S3 server) as a :class:`~floe_testing.ServiceFixture`: on entry the server
    is checked and a ``minio.Minio`` client returned; on exit every bucket that client created
    is emptied and deleted (all of them are tried; the failures are reported together).

    ``config`` defaults to :class:`MinIOConfig` read from the environment
    (``MINIO_ENDPOINT``, ...)."""

    service_name = SERVICE.service

    def __init__(self, config: MinIOConfig | None = None) -> None:
        super().__init__(SERVICE)
        self.config = config if config is not None else config_from_env(SERVICE)
        self.service_port = SERVICE.address(self.config)[1]

    def __call__(self) -> Generator[TrackingMinio, None, None]:
        client = make_client(self.config)
        _list_buckets(client, self.config)
        try:
            yield client
        finally:
            failures = []
            for bucket in reversed(client.created_buckets):
                try:
                    empty_and_remove_bucket(client, bucket)
                except Exception as exc:  # noqa: BLE001 - report every bucket, not the first
                    failures.append(f"{bucket}: {type(exc).__name__}: {exc}")
            if failures:
                raise CleanupError("MinIO cleanup failed for: " + "; ".join(failures))

    def check(self) -> None:
        """List the buckets (the cheapest call that needs a valid login)."""
        _list_buckets(make_client(self.config), self.config)


@contextmanager
def open_for_test(config: MinIOConfig,
                  request: pytest.FixtureRequest | None) -> Iterator[TrackingMinio]:
    """``minio_client``: after the session's sweep, a client whose buckets go with the test."""
    if request is not None:
        request.getfixturevalue("_floe_minio_sweep")
    with MinIOFixture(config) as client:
        yield client


if TYPE_CHECKING:  # checked by mypy: the helper satisfies the data model's protocol
    def _is_a_service_fixture(helper: MinIOFixture) -> ServiceFixture:
        return helper
