"""The data model's ``ServiceFixture`` protocol, the base its helpers share, and
``check_service_health``.

Each service helper (:class:`~floe_testing.services.postgres.helper.PostgresFixture`, ...) is
the code its pytest fixture runs, usable without pytest: in a session-scoped fixture of the
user's own, a script or a notebook. Calling one yields the client and cleans up on exit (the
protocol); ``with helper as client:`` does the same as a context manager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
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


def check_service_health(service: ServiceFixture) -> bool:
    """True when ``service`` answers, False otherwise (never raises for an unreachable
    service). Uses the helper's own check where it has one (no test database or namespace is
    created); any other ``ServiceFixture`` is opened and closed once."""
    check = getattr(service, "check", None)
    try:
        if callable(check):
            check()
        else:
            with contextlib.contextmanager(service.__call__)():
                pass
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
    return True
