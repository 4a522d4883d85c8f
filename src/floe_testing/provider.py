"""The seam between consumers of services (fixtures, base classes) and whoever provides them.

The plugin installs one :class:`ServiceProvider` per test process in ``pytest_configure``.
Consumers call :func:`current_provider` only when they actually need a cluster service, which
is what keeps provisioning lazy: nothing is created until something asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from floe_testing.errors import InfrastructureError

if TYPE_CHECKING:
    from floe_testing.endpoints import Endpoint


class ServiceProvider(Protocol):
    """Brings a service up on demand and says where this process reaches it."""

    def endpoint(self, service: str, port: int, namespace: str) -> Endpoint:
        """Deploy (if needed), wait for and expose ``service:port``; return its address."""
        ...

    def secret_data(self, name: str, namespace: str) -> Mapping[str, str]:
        """The decoded data of a Secret (credentials the manifests define)."""
        ...


_installed: list[ServiceProvider] = []


def install_provider(provider: ServiceProvider | None) -> None:
    """Make ``provider`` the one consumers get (``None`` removes it)."""
    _installed[:] = [provider] if provider is not None else []


def current_provider() -> ServiceProvider:
    """The installed provider, or an error saying how to get services without one."""
    if not _installed:
        raise InfrastructureError(
            "No cluster provider is active in this process (is the floe_testing plugin "
            "disabled with -p no:floe_testing?). Point the env vars (POSTGRES_HOST, "
            "MINIO_ENDPOINT, POLARIS_URI, DAGSTER_HOST) at running services instead."
        )
    return _installed[0]
