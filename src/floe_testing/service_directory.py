"""The run's service directory: the one place that answers "where is service X" for this process.

There are three answers, each defined once:

* an env var names the service's endpoint (``POSTGRES_HOST``, ...): the user's own server,
  and no cluster work for it;
* in-cluster mode (:func:`~floe_testing.location.in_cluster_mode`: no kubeconfig named and
  running in a pod): the Service's DNS name; the cluster session provisions and answers
  with it, no forward;
* otherwise the cluster session: provisioned on first need, reached through a forward whose
  local address never changes for the session.

One directory per pytest run, kept in ``config.stash`` (:data:`SERVICE_DIRECTORY`); fixtures
ask it through their request. Code that has no request (``wait_for_service``, the service
helpers' messages) finds the run's directory with :func:`active_directory`: a context
variable the plugin sets for the run (and restores when a pytester run inside a test ends).
Outside pytest there is none, and the answer comes from env vars or DNS names alone.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from floe_testing.errors import ConfigError, InfrastructureError
from floe_testing.location import in_cluster_mode
from floe_testing.service_spec import DEFAULT_K8S_NAMESPACE, SERVICE_SPECS, ServiceSpec

if TYPE_CHECKING:
    from floe_testing.service_configs import ServiceSettings

#: how a forwarded address is described (messages and the PostgreSQL retry rule)
FORWARD = "port-forward"


@dataclass(frozen=True)
class Endpoint:
    """An address plus how it was obtained, for messages that say what was tried."""

    host: str
    port: int
    via: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.via})"


class ClusterProvider(Protocol):
    """The cluster side of the directory: brings a service up on demand and says where this
    process reaches it (a forward, or its DNS name in a pod)."""

    def endpoint(self, service: str, port: int, namespace: str) -> Endpoint:
        """Deploy (if needed), wait for and expose ``service:port``; return its address."""
        ...

    def secret_data(self, name: str, namespace: str) -> Mapping[str, str]:
        """The decoded data of a Secret (credentials the manifests define)."""
        ...


def dns_name(service: str, namespace: str = DEFAULT_K8S_NAMESPACE) -> str:
    """The cluster-internal DNS name of a Service."""
    return f"{service}.{namespace}.svc.cluster.local"


def spec_of(service: str, port: int) -> ServiceSpec | None:
    """The stack service with this Kubernetes Service name and port, if it is one."""
    for spec in SERVICE_SPECS.values():
        if spec.service_name == service and port in (spec.port, *spec.extra_ports):
            return spec
    return None


class ServiceDirectory:
    """Where this process reaches each service (see the module docstring)."""

    def __init__(self, cluster: Callable[[], ClusterProvider] | None = None) -> None:
        """``cluster`` gives the run's cluster provider, called only when a service is not
        given by env (the provider, the cluster session, is created on that first need)."""
        self._cluster_of_run = cluster
        self._lock = threading.Lock()
        #: addresses handed out, for messages and ``is_forwarded`` (never re-derived)
        self._given: dict[tuple[str, str, int], Endpoint] = {}

    # -- addresses -----------------------------------------------------------------------

    def address(self, service: str, port: int,
                namespace: str = DEFAULT_K8S_NAMESPACE) -> Endpoint:
        """Env endpoint, else the cluster's answer (provisioning on first need); without a
        cluster (outside pytest), the Service's DNS name."""
        spec = spec_of(service, port)
        if spec is not None and port == spec.port and spec.endpoint_from_env():
            host, env_port = spec.address_of(spec.config_class.resolve())
            found = Endpoint(host, env_port, f"from env {spec.endpoint_env}")
        elif self._cluster_of_run is not None:
            found = self._cluster_of_run().endpoint(service, port, namespace)
        else:
            found = Endpoint(dns_name(service, namespace), port,
                             "service DNS" if in_cluster_mode(None) else
                             "service DNS; no cluster in this process")
        with self._lock:
            self._given[(namespace, service, port)] = found
        return found

    def config(self, spec: ServiceSpec) -> ServiceSettings:
        """The service's config: from env alone when its endpoint variable is set, else env
        filled with what the cluster knows (the reachable address, the Secret's credentials).
        Errors are :class:`~floe_testing.errors.FloeTestingError`\\ s naming what to fix."""
        if spec.endpoint_from_env():
            config = spec.config_class.resolve()
            self.address(spec.service_name, spec.port, spec.k8s_namespace)
            return config
        check_cluster_mode_env(spec)  # before any cluster work
        cluster = self._require_cluster(spec)
        reached = self.address(spec.service_name, spec.port, spec.k8s_namespace)
        secret = (cluster.secret_data(spec.secret_name, spec.k8s_namespace)
                  if spec.secret_name else {})
        values: dict[str, Any] = dict(spec.from_cluster(reached.host, reached.port, secret))
        for field, other in spec.endpoint_of.items():
            peer = SERVICE_SPECS[other]
            peer_address = self.address(peer.service_name, peer.port, peer.k8s_namespace)
            values[field] = f"http://{peer_address.host}:{peer_address.port}"
        return spec.config_class.resolve(values)

    def _require_cluster(self, spec: ServiceSpec) -> ClusterProvider:
        if self._cluster_of_run is None:
            raise InfrastructureError(
                f"{spec.key}: no cluster provider is active in this process (is the "
                "floe_testing plugin disabled with -p no:floe_testing?). Set "
                f"{spec.endpoint_env} (and the other {spec.env_prefix}* variables) to use a "
                "running server instead.")
        return self._cluster_of_run()

    # -- what an address is ----------------------------------------------------------------

    def _given_to(self, host: str, port: int) -> Endpoint | None:
        with self._lock:
            return next((e for e in self._given.values() if (e.host, e.port) == (host, port)),
                        None)

    def is_forwarded(self, host: str, port: int) -> bool:
        """True when ``host:port`` is one of the session's forwards (whose pod may be
        restarting behind it)."""
        found = self._given_to(host, port)
        return found is not None and found.via.startswith(FORWARD)

    def address_source(self, spec: ServiceSpec, host: str, port: int) -> str:
        """Where the address a config holds came from, for messages that say what to check."""
        found = self._given_to(host, port)
        if found is not None:
            return found.via.removeprefix("from ")
        if host == spec.dns_name:
            return "the Service's DNS name (inside the cluster)"
        return f"the {spec.key}_config fixture"


def check_cluster_mode_env(spec: ServiceSpec) -> None:
    """Refuse env vars that would mix a server of the user's into the cluster's service.

    Without its endpoint variable (``POSTGRES_HOST``, ...) a service comes from the cluster,
    address and credentials alike. ``POSTGRES_PORT`` or ``POSTGRES_PASSWORD`` exported alone
    (a compose ``.env``, say) would otherwise point the forward's host at another port or log
    in with another password, silently; an empty endpoint variable would silently mean "the
    cluster". Both are errors that say what to do.
    """
    if spec.endpoint_env in os.environ and not os.environ[spec.endpoint_env].strip():
        raise ConfigError(
            f"{spec.endpoint_env} is set but empty. Unset it to use the cluster's "
            f"{spec.service_name}, or set it to the host of your server.")
    stray = [name for name in (spec.config_class.env_var(f) for f in spec.cluster_fields)
             if name in os.environ and name != spec.endpoint_env]
    if stray:
        raise ConfigError(
            f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} set but "
            f"{spec.endpoint_env} is not. Without {spec.endpoint_env} the cluster "
            f"provides {spec.service_name} (its address, and credentials from its Secret), and "
            f"{'this' if len(stray) == 1 else 'these'} would be mixed into it. Set "
            f"{spec.endpoint_env} to use your own server, or unset {', '.join(stray)}.")


def probe_tcp(endpoint: Endpoint, timeout: float = 3.0) -> str | None:
    """None when a TCP connection succeeds, else the reason it did not."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


#: the run's directory, in ``config.stash``
SERVICE_DIRECTORY = pytest.StashKey["ServiceDirectory"]()
_ACTIVE: ContextVar[ServiceDirectory | None] = ContextVar("floe_testing_active_directory",
                                                          default=None)


def active_directory() -> ServiceDirectory:
    """The running pytest session's directory; outside pytest, one without a cluster."""
    return _ACTIVE.get() or ServiceDirectory()


def activate(directory: ServiceDirectory) -> Token[ServiceDirectory | None]:
    """Make ``directory`` the active one (the plugin, at configure); returns what
    :func:`deactivate` needs to bring the previous one back."""
    return _ACTIVE.set(directory)


def deactivate(token: Token[ServiceDirectory | None]) -> None:
    """Undo :func:`activate` (the plugin, at unconfigure)."""
    _ACTIVE.reset(token)
