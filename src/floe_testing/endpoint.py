"""Where a service is reached: an address and how it was obtained.

An :class:`Endpoint` says itself whether it is one of the session's forwards (whose pod may be
restarting behind it: a client then retries a while), the Service's DNS name inside the
cluster, or a server named by env. Imported on every run: stdlib only.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

#: The Kubernetes namespace of the packaged stack (not a SQL or Iceberg namespace).
DEFAULT_K8S_NAMESPACE = "floe-test"

Reached = Literal["forward", "dns", "env", "given"]


def dns_name(service: str, namespace: str = DEFAULT_K8S_NAMESPACE) -> str:
    """The cluster-internal DNS name of a Service."""
    return f"{service}.{namespace}.svc.cluster.local"


class Endpoint(NamedTuple):  # made on every run's imports: cheaper than a dataclass
    """An address plus how it was obtained, for clients that retry through a restarting
    forward and for messages that say where the address came from."""

    host: str
    port: int
    #: how it was obtained, for messages ("port-forward of svc/postgres in floe-test")
    via: str
    reached: Reached = "given"

    @property
    def forwarded(self) -> bool:
        """One of the session's forwards: its pod (or kubectl) may be restarting."""
        return self.reached == "forward"

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.via})"
