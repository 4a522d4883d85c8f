"""Polling utilities (the data model's): ``PollingConfig``, ``wait_for_condition`` and
``wait_for_service``. Waiting itself is :mod:`floe_testing.waiting`; a service's address comes
from the run's service directory."""

from __future__ import annotations

import socket

from floe_testing.endpoint import DEFAULT_K8S_NAMESPACE
from floe_testing.errors import FloeTestingError, InfrastructureError
from floe_testing.waiting import (
    ConditionFailed,
    NotReady,
    PollingConfig,
    PollingTimeoutError,
    wait_for_condition,
)


class ServiceUnavailableError(InfrastructureError, TimeoutError):
    """:func:`wait_for_service` found that the service cannot become reachable (its cluster
    does not answer, there is no such Service, its forward cannot start): it fails at once,
    with the reason, as the ``TimeoutError`` the data model promises rather than after the
    timeout."""


def _can_connect(host: str, port: int, timeout: float) -> bool:
    with socket.create_connection((host, port), timeout=timeout):
        return True


def wait_for_service(
    service: str,
    port: int,
    namespace: str = DEFAULT_K8S_NAMESPACE,
    config: PollingConfig | None = None,
) -> None:
    """Wait until the service accepts TCP connections where this process reaches it.

    The address comes from the run's service directory
    (:func:`floe_testing.service_directory.active_directory`): an env endpoint, else the
    cluster's (provisioned on first need, forwarded, or its DNS name inside a pod). When that
    fails for good (an unreachable cluster, no such Service) it raises
    :class:`ServiceUnavailableError` at once, a ``TimeoutError`` saying why; a bad setting
    raises its :class:`~floe_testing.errors.ConfigError`. Either way the message alone, with
    no traceback of the plugin's below the caller's line.
    """
    __tracebackhide__ = True
    cfg = config or PollingConfig(description=f"service {service}:{port} in {namespace}")
    if cfg.description == "condition":
        cfg = cfg.model_copy(update={"description": f"service {service}:{port} in {namespace}"})
    from floe_testing.service_directory import active_directory

    try:
        endpoint = active_directory().address(service, port, namespace)
    except InfrastructureError as exc:
        raise ServiceUnavailableError(
            f"service {service}:{port} in {namespace} cannot be reached: {exc}") from None
    except FloeTestingError as exc:
        raise exc.with_traceback(None) from None
    connect_timeout = min(2.0, cfg.interval * 4)
    wait_for_condition(
        lambda: _can_connect(endpoint.host, endpoint.port, connect_timeout),
        cfg.model_copy(update={"description": f"{cfg.description} at {endpoint}"}),
    )


__all__ = [
    "ConditionFailed",
    "NotReady",
    "PollingConfig",
    "PollingTimeoutError",
    "ServiceUnavailableError",
    "wait_for_condition",
    "wait_for_service",
]
