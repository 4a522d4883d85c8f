"""The data model's ``ServiceFixture`` protocol, the base its helpers share,
``check_service_health`` and :func:`service_health` (the same check, with the reason).

Each service helper (:class:`~floe_testing.services.postgres.helper.PostgresFixture`, ...) is
the code its pytest fixture runs, usable without pytest: in a session-scoped fixture of the
user's own, a script or a notebook. Calling one yields the client and cleans up on exit (the
protocol); ``with helper as client:`` does the same as a context manager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from floe_testing.services.declaration import ServiceDeclaration

ClientT = TypeVar("ClientT")


@runtime_checkable
class ServiceFixture(Protocol):
    """A service that verifies it is available, provides a client and cleans up on teardown
    (the data model's protocol; every service helper of this package satisfies it)."""

    service_name: str
    service_port: int

    def __call__(self) -> Generator[Any, None, None]:
        """Yield the service's connection or client; clean up on exit."""
        ...


class ServiceContext(Generic[ClientT]):
    """Base of the service helpers: a :class:`ServiceFixture` that is also a context manager
    and can say whether its service answers (:meth:`check`)."""

    service_name: str
    service_port: int

    def __init__(self, declaration: ServiceDeclaration) -> None:
        """Without ``declaration``'s client library installed: the command that installs it."""
        from floe_testing.extras import require_client

        require_client(declaration, type(self).__name__)
        self._open: list[contextlib.AbstractContextManager[ClientT]] = []

    def __call__(self) -> Generator[ClientT, None, None]:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self) -> None:  # pragma: no cover - abstract
        """Raise (a :class:`~floe_testing.errors.FloeTestingError` saying what and where)
        unless the service answers; create nothing."""
        raise NotImplementedError

    def __enter__(self) -> ClientT:
        opened = contextlib.contextmanager(self.__call__)()
        client = opened.__enter__()
        self._open.append(opened)
        return client

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool | None:
        return self._open.pop().__exit__(kind, error, traceback)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.service_name}:{self.service_port})"


@dataclass(frozen=True)
class ServiceHealth:
    """Whether a service answers, and why not: ``reason`` is the helper's own one-screen
    message (what, where, what to check or grant), empty when healthy. Truthy when healthy."""

    healthy: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.healthy


def service_health(service: ServiceFixture) -> ServiceHealth:
    """Whether ``service`` answers and, if not, why (never raises for an unusable service).
    Uses the helper's own check where it has one (no test database or namespace is created);
    any other ``ServiceFixture`` is opened and closed once."""
    from floe_testing.errors import FloeTestingError

    check = getattr(service, "check", None)
    try:
        if callable(check):
            check()
        else:
            with contextlib.contextmanager(service.__call__)():
                pass
    except FloeTestingError as exc:  # already one screen: what, where, how to fix
        return ServiceHealth(False, str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        text = (str(exc).strip().splitlines() or [""])[0][:500]
        return ServiceHealth(False, f"{service!r}: {type(exc).__name__}: {text}")
    return ServiceHealth(True)


def check_service_health(service: ServiceFixture) -> bool:
    """True when ``service`` answers, False otherwise (never raises for an unreachable
    service); :func:`service_health` also says why."""
    return service_health(service).healthy
