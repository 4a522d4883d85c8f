"""Finding a reachable address for a service, from env config or from the cluster provider."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from floe_testing.endpoints import Endpoint, register_endpoint, registered_endpoint
from floe_testing.errors import ConfigError
from floe_testing.models import ServiceRequirement
from floe_testing.provider import current_provider
from floe_testing.stack_services import STACK_SERVICES, StackService

if TYPE_CHECKING:
    from floe_testing.service_configs import ServiceSettings


def stack_service_named(name: str, port: int) -> StackService | None:
    """The stack service with this Kubernetes Service name and port, if it is one."""
    for service in STACK_SERVICES.values():
        if service.name == name and port in (service.port, *service.extra_ports):
            return service
    return None


def env_endpoint(service: StackService) -> tuple[ServiceSettings, Endpoint] | None:
    """The config and address given by env vars, registered for later lookups; else None."""
    if not service.endpoint_from_env():
        return None
    config = service.config_class.resolve()
    host, port = service.address_of(config)
    endpoint = Endpoint(host, port, f"from env {service.endpoint_env}")
    register_endpoint(service.name, service.port, service.namespace, endpoint)
    return config, endpoint


def check_cluster_mode_env(service: StackService) -> None:
    """Refuse env vars that would mix a server of the user's into the cluster's service.

    Without its endpoint variable (``POSTGRES_HOST``, ...) a service comes from the cluster,
    address and credentials alike. ``POSTGRES_PORT`` or ``POSTGRES_PASSWORD`` exported alone
    (a compose ``.env``, say) would otherwise point the forward's host at another port or log
    in with another password, silently; an empty endpoint variable would silently mean "the
    cluster". Both are errors that say what to do.
    """
    if service.endpoint_env in os.environ and not os.environ[service.endpoint_env].strip():
        raise ConfigError(
            f"{service.endpoint_env} is set but empty. Unset it to use the cluster's "
            f"{service.name}, or set it to the host of your server.")
    stray = [name for name in (service.config_class.env_var(f) for f in service.cluster_fields)
             if name in os.environ and name != service.endpoint_env]
    if stray:
        raise ConfigError(
            f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} set but "
            f"{service.endpoint_env} is not. Without {service.endpoint_env} the cluster "
            f"provides {service.name} (its address, and credentials from its Secret), and "
            f"{'this' if len(stray) == 1 else 'these'} would be mixed into it. Set "
            f"{service.endpoint_env} to use your own server, or unset {', '.join(stray)}.")


def locate(requirement: ServiceRequirement) -> Endpoint:
    """Registered endpoint, else env endpoint, else ask the cluster provider to bring it up."""
    found = registered_endpoint(requirement.name, requirement.port, requirement.namespace)
    if found is not None:
        return found
    stack = stack_service_named(requirement.name, requirement.port)
    if stack is not None and requirement.port == stack.port:
        from_env = env_endpoint(stack)
        if from_env is not None:
            return from_env[1]
    return current_provider().endpoint(requirement.name, requirement.port, requirement.namespace)


def discovered_settings(service: StackService) -> Mapping[str, Any]:
    """Config values the cluster knows: the reachable address and the Secret's credentials."""
    provider = current_provider()
    endpoint = provider.endpoint(service.name, service.port, service.namespace)
    secret = (
        provider.secret_data(service.secret_name, service.namespace)
        if service.secret_name else {}
    )
    settings = dict(service.settings(endpoint.host, endpoint.port, secret))
    for field, other in service.endpoint_of.items():
        peer = STACK_SERVICES[other]
        reached = provider.endpoint(peer.name, peer.port, peer.namespace)
        settings[field] = f"http://{reached.host}:{reached.port}"
    return settings


def address_source(service: StackService, host: str, port: int) -> str:
    """Where the address a config holds came from, for messages that say what to check."""
    found = registered_endpoint(service.name, service.port, service.namespace)
    if found is not None and (found.host, found.port) == (host, port):
        if found.via == "kubectl port-forward":
            return f"kubectl port-forward to svc/{service.name} in {service.namespace}"
        return found.via.removeprefix("from ")
    if host.endswith(".svc.cluster.local"):
        return "the Service's DNS name (inside the cluster)"
    return f"the {service.key}_config fixture"


def probe_tcp(endpoint: Endpoint, timeout: float = 3.0) -> str | None:
    """None when a TCP connection succeeds, else the reason it did not."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
