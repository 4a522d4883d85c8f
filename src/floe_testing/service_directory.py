"""The run's service directory: the one place that answers "where is service X" for this process.

There are three answers, each defined once:

* an env var names the service's endpoint (``POSTGRES_HOST``, ...): the user's own server,
  and no cluster work for it;
* in-cluster mode (:func:`~floe_testing.location.in_cluster_mode`: no kubeconfig named and
  running in a pod): the Service's DNS name; the cluster session provisions and answers with
  it, no forward;
* otherwise the cluster session: provisioned on first need, reached through a forward whose
  local address never changes for the session.

One directory per pytest run, kept in ``config.stash`` (:data:`SERVICE_DIRECTORY`); config
fixtures ask it (:meth:`ServiceDirectory.config`). A config remembers the endpoint its address
came from (a forward says so itself), so clients and messages never ask again. Code that has
no request (``wait_for_service``, ``IntegrationTestBase``) finds the run's directory with
:func:`active_directory`: a context variable the plugin sets for the run (and restores when a
pytester run inside a test ends). Outside pytest there is none, and the answer comes from env
vars or DNS names alone.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from floe_testing.endpoint import DEFAULT_K8S_NAMESPACE, Endpoint, dns_name
from floe_testing.errors import InfrastructureError
from floe_testing.location import in_cluster_mode

if TYPE_CHECKING:
    from floe_testing.redaction import SecretValues
    from floe_testing.services.declaration import ServiceDeclaration
    from floe_testing.services.registry import ServiceRegistry


class ClusterProvider(Protocol):
    """The cluster side of the directory (the run's cluster session): brings a service up on
    demand and says where this process reaches it (a forward, or its DNS name in a pod)."""

    def endpoint(self, service: str, port: int, namespace: str) -> Endpoint:
        """Deploy (if needed), wait for and expose ``service:port``; return its address."""
        ...

    def secret_data(self, name: str, namespace: str) -> Mapping[str, str]:
        """The decoded data of a Secret (credentials the manifests define)."""
        ...


class ServiceDirectory:
    """Where this process reaches each service (see the module docstring)."""

    def __init__(self, config: pytest.Config | None = None,
                 registry: ServiceRegistry | None = None,
                 secrets: SecretValues | None = None, *,
                 cluster: ClusterProvider | None = None) -> None:
        """``config``: the run whose cluster session answers for services not given by env
        (created on that first need); None outside pytest. ``cluster`` answers instead of
        the run's session (a test's table of addresses)."""
        self._config = config
        self._registry = registry
        self._secrets = secrets
        self._given_cluster = cluster

    def _cluster(self, declaration: ServiceDeclaration | None) -> ClusterProvider:
        if self._given_cluster is not None:
            return self._given_cluster
        if self._config is None:
            what = declaration.name if declaration is not None else "a service"
            hint = (f" Set {declaration.endpoint_env} (and the other {declaration.prefix}* "
                    "variables) to use a running server instead." if declaration else "")
            raise InfrastructureError(
                f"{what}: no cluster provider is active in this process (is the floe_testing "
                f"plugin disabled with -p no:floe_testing?).{hint}")
        from floe_testing.cluster.run import cluster_session

        return cluster_session(self._config)

    # -- configs -------------------------------------------------------------------------

    def config_from_cluster(self, declaration: ServiceDeclaration) -> Any:
        """The config of a service the cluster serves (its endpoint variable is not set; a
        config from env alone is :func:`~floe_testing.services.configs.config_from_env`'s):
        env filled with what the cluster knows (the reachable address, the Secret's values).
        It remembers the endpoint it was reached through. Errors are
        :class:`~floe_testing.errors.FloeTestingError`\\ s naming what to fix."""
        from floe_testing.services.configs import config_class

        cluster = self._cluster(declaration)
        reached = cluster.endpoint(declaration.service, declaration.port, declaration.namespace)
        secret = (cluster.secret_data(declaration.secret, declaration.namespace)
                  if declaration.secret else {})
        if self._secrets is not None:  # exactly the keys declared as credentials
            self._secrets.add(*(secret[key] for key in declaration.credentials.values()
                                if key in secret),
                              source=f"the Secret {declaration.namespace}/{declaration.secret}")
        values = declaration.values_from_cluster(reached.host, reached.port, secret)
        for config_field, peer_name in declaration.endpoint_of.items():
            peer = self._registry.named(peer_name) if self._registry is not None else None
            if peer is not None:
                address = self.address(peer.service, peer.port, peer.namespace)
                values[config_field] = f"http://{address.host}:{address.port}"
        return config_class(declaration).resolve(values).reached_through(reached)

    # -- addresses -----------------------------------------------------------------------

    def address(self, service: str, port: int,
                namespace: str = DEFAULT_K8S_NAMESPACE) -> Endpoint:
        """Any Service's address: a declared service's env endpoint, else the cluster's
        (provisioned on first need); without a cluster (outside pytest), its DNS name."""
        declaration = (self._registry.serving(service, port, namespace)
                       if self._registry is not None else None)
        if declaration is not None and port == declaration.port and (
                declaration.endpoint_from_env()):
            from floe_testing.services.configs import config_from_env

            config = config_from_env(declaration)
            host, env_port = declaration.address(config)
            return Endpoint(host, env_port, f"from env {declaration.endpoint_env}", "env")
        if self._config is not None or self._given_cluster is not None:
            return self._cluster(declaration).endpoint(service, port, namespace)
        return Endpoint(dns_name(service, namespace), port,
                        "service DNS" if in_cluster_mode(None) else
                        "service DNS; no cluster in this process", "dns")


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
    """The running pytest session's directory; outside pytest, one without a cluster that
    knows the built-in services."""
    from floe_testing.services.registry import builtin_registry

    return _ACTIVE.get() or ServiceDirectory(registry=builtin_registry())


def activate(directory: ServiceDirectory) -> Token[ServiceDirectory | None]:
    """Make ``directory`` the active one (the plugin, at configure); returns what
    :func:`deactivate` needs to bring the previous one back."""
    return _ACTIVE.set(directory)


def deactivate(token: Token[ServiceDirectory | None]) -> None:
    """Undo :func:`activate` (the plugin, at unconfigure)."""
    _ACTIVE.reset(token)
