"""Where this process reaches a cluster service: one registry for forwards and env endpoints.

The cluster session registers each port-forward here, config resolution registers endpoints
given by env vars, and everything that needs an address (``wait_for_service``,
``IntegrationTestBase``) asks :func:`resolve_endpoint`, so the answer is the same everywhere.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from floe_testing.stack_services import DEFAULT_NAMESPACE


@dataclass(frozen=True)
class Endpoint:
    """An address plus how it was obtained, for messages that say what was tried."""

    host: str
    port: int
    via: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.via})"


_lock = threading.Lock()
_registry: dict[tuple[str, str, int], Endpoint] = {}


def in_cluster() -> bool:
    """True when running in a pod, where service DNS works and forwards are pointless."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def service_dns(service: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The cluster-internal DNS name of a Service."""
    return f"{service}.{namespace}.svc.cluster.local"


def register_endpoint(service: str, port: int, namespace: str, endpoint: Endpoint) -> None:
    """Record where ``service:port`` in ``namespace`` is reachable from this process."""
    with _lock:
        _registry[(namespace, service, port)] = endpoint


def unregister_endpoint(service: str, port: int, namespace: str) -> None:
    """Forget an endpoint (its forward was stopped)."""
    with _lock:
        _registry.pop((namespace, service, port), None)


def registered_endpoint(service: str, port: int, namespace: str) -> Endpoint | None:
    """The registered endpoint, if any, without falling back to DNS."""
    with _lock:
        return _registry.get((namespace, service, port))


def is_forwarded(host: str, port: int) -> bool:
    """True when ``host:port`` is one of our port-forwards (which may be restarting)."""
    with _lock:
        return any(e.host == host and e.port == port and e.via == "kubectl port-forward"
                   for e in _registry.values())


def resolve_endpoint(service: str, port: int, namespace: str = DEFAULT_NAMESPACE) -> Endpoint:
    """Registered endpoint first, else the Service's DNS name (right inside a cluster)."""
    found = registered_endpoint(service, port, namespace)
    if found is not None:
        return found
    via = "service DNS" if in_cluster() else "service DNS, no port-forward registered"
    return Endpoint(service_dns(service, namespace), port, via)
