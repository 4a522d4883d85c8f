"""A declared service's helper (usable without pytest) and the one-screen error every service
raises when its server does not answer.

:class:`ServiceHelper` is what a declared service's client fixture runs, and what a script
uses: ``with ServiceHelper(jaeger_client.floe_service) as client:``. On entry it checks the
service (the declaration's ``health``, else a TCP connection; through a session's forward a
restarting pod is waited for) and yields the declaration's client (or the config: host, port,
url); on exit a generator client's cleanup runs.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Generator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NoReturn

from floe_testing.errors import InfrastructureError
from floe_testing.service_fixture import ServiceContext
from floe_testing.services.configs import config_from_env
from floe_testing.services.declaration import ClientFactory, ServiceDeclaration, import_path

if TYPE_CHECKING:
    import pytest

    from floe_testing.services.settings import ServiceSettings

#: How long a service behind a restarting forward (or a restarted pod) may take to answer.
FORWARD_RECOVERY_TIMEOUT = 60.0


def raise_unusable(what: str, config: ServiceSettings, address: str,
                   exc: BaseException | str, check: str) -> NoReturn:
    """An :class:`InfrastructureError` whose one screen says, for a service that did not
    answer: what, where (``address``: a URL or ``host:port``), where that address came from
    (the config knows), why (a timeout names the bounds and how to change them), and what to
    check."""
    from floe_testing.services.settings import ClientTimeouts

    cause = (exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}")
    cause = (cause.strip().splitlines() or [""])[0][:300]
    text = str(exc).lower()
    bounds = ""
    if isinstance(exc, TimeoutError) or "timed out" in text or "timeout" in text:
        bounds = f"\nIt did not answer in time ({ClientTimeouts().describe()})."
    raise InfrastructureError(
        f"{what} at {address} is not usable (address from {config.address_source()}): "
        f"{cause}{bounds}\nCheck: {check}") from None


def settings_hint(declaration: ServiceDeclaration) -> str:
    """The env variables (and fixture) that set where a service is."""
    names = ", ".join(declaration.env_var(f) for f in declaration.fields_from_cluster)
    return f"{names} (or your {declaration.config_fixture_name} fixture)"


class ServiceHelper(ServiceContext[Any]):
    """A declared service as a :class:`~floe_testing.ServiceFixture` (see the module doc).
    ``config`` defaults to the declaration's config read from env (``<NAME>_HOST``, ...)."""

    def __init__(self, declaration: ServiceDeclaration, config: Any = None) -> None:
        super().__init__(declaration)
        self.declaration = declaration
        self.config = config if config is not None else config_from_env(declaration)
        self.service_name = declaration.service or declaration.name
        #: where the config points (its ``address_of`` for a config of the user's own shape)
        self.host, self.service_port = declaration.address(self.config)

    def __call__(self) -> Generator[Any, None, None]:
        self.check()
        if self.declaration.client is None:
            yield self.config
            return
        yield from run_client_factory(self.declaration.client, self.config)

    def check(self) -> None:
        """The declaration's ``health`` (else a TCP connection) succeeds; through a forward,
        a restarting pod is waited for."""
        from floe_testing.services.settings import ClientTimeouts
        from floe_testing.waiting import (
            ConditionFailed,
            NotReady,
            PollingConfig,
            PollingTimeoutError,
            wait_for_condition,
        )

        bounds = ClientTimeouts()
        reached = getattr(self.config, "reached", None)

        def healthy() -> bool:
            try:
                if self.declaration.health is not None:
                    answer = self.declaration.health(self.config)
                    if answer is False:
                        raise NotReady("its health check said no")
                else:
                    with socket.create_connection((self.host, self.service_port),
                                                  timeout=bounds.connect_timeout):
                        pass
            except (NotReady, ConditionFailed):
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means "not (yet) usable"
                raise NotReady(f"{type(exc).__name__}: {exc}") from None
            return True

        address = str(getattr(self.config, "url", None) or f"{self.host}:{self.service_port}")
        try:
            if reached is not None and reached.forwarded:  # its pod may be restarting
                wait_for_condition(healthy, PollingConfig(
                    timeout=FORWARD_RECOVERY_TIMEOUT, interval=0.2,
                    description=f"{self.declaration.name} through the port-forward {address}"))
            else:
                healthy()
        except (NotReady, PollingTimeoutError) as exc:
            raise_unusable(self.declaration.name, self.config, address, str(exc),
                           f"that {self.declaration.service or self.declaration.name} answers "
                           f"there ({settings_hint(self.declaration)}).")


def run_client_factory(factory: ClientFactory, config: Any) -> Generator[Any, None, None]:
    """Yield what ``factory(config)`` gives: its value, or what a generator factory yields
    (its code after the ``yield`` runs on exit)."""
    if inspect.isgeneratorfunction(factory):
        yield from factory(config)
    else:
        yield factory(config)


def open_client(declaration: ServiceDeclaration, config: Any,
                request: pytest.FixtureRequest | None = None) -> AbstractContextManager[Any]:
    """The service's client for ``config`` as a context manager (a test's: ``request``): the
    built-in's own opener, else the generic :class:`ServiceHelper`."""
    if declaration.opener:
        opened: AbstractContextManager[Any] = import_path(declaration.opener)(config, request)
        return opened
    return ServiceHelper(declaration, config)
