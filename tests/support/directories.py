"""A service directory whose cluster answers from a table: for tests of code that asks the
run's directory for an address (``wait_for_service``, ``IntegrationTestBase``) without a
cluster. The table is the test's; nothing outlives the ``with`` block."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from floe_testing.endpoint import Endpoint
from floe_testing.errors import InfrastructureError
from floe_testing.service_directory import ServiceDirectory, activate, deactivate


class TableCluster:
    """A :class:`~floe_testing.service_directory.ClusterProvider` answering from a dict."""

    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, int, str], Endpoint] = {}

    def endpoint(self, service: str, port: int, namespace: str) -> Endpoint:
        try:
            return self.endpoints[(service, port, namespace)]
        except KeyError:
            raise InfrastructureError(f"no such service {service}:{port} in {namespace}") \
                from None

    def secret_data(self, name: str, namespace: str) -> Mapping[str, str]:
        raise InfrastructureError(f"no Secret {namespace}/{name} here")


@contextmanager
def table_directory() -> Iterator[TableCluster]:
    """The active directory's cluster is a fresh :class:`TableCluster` inside the block."""
    cluster = TableCluster()
    token = activate(ServiceDirectory(cluster=cluster))
    try:
        yield cluster
    finally:
        deactivate(token)
