"""Exception types that carry an actionable, one-screen message.

Every error the plugin raises on purpose derives from :class:`FloeTestingError`, so the plugin
can print its message without a traceback (the message already says what and where).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from floe_testing.service_spec import ServiceSpec


class FloeTestingError(Exception):
    """Base for errors whose message alone tells the user what broke and how to fix it."""


class ConfigError(FloeTestingError, ValueError):
    """A configuration value (env var, ini option, fixture override) is invalid or missing."""


class InfrastructureError(FloeTestingError):
    """A service or the cluster the test needs cannot be reached or brought up."""


class CleanupError(FloeTestingError):
    """One or more cleanups failed; each failure is listed, none is swallowed."""


def fail(message: str) -> NoReturn:
    """Fail the test with ``message`` only: no traceback and no chained exception, because the
    message already says what broke, where, and how to fix it."""
    raise pytest.fail.Exception(message, pytrace=False) from None


@contextmanager
def failing_on_one_screen() -> Iterator[None]:
    """Around a fixture's body: an error of ours, in setup or teardown, fails the test with
    its message alone (the service helpers raise; pytest shows the message)."""
    __tracebackhide__ = True
    try:
        yield
    except FloeTestingError as exc:
        fail(str(exc))


def raise_unusable(service: str, spec: ServiceSpec, address: str, exc: BaseException | str,
                   check: str) -> NoReturn:
    """An :class:`InfrastructureError` whose one screen says, for a service that did not
    answer: what, where (``address``: a URL or ``host:port``), where that address came from
    (the run's service directory knows), why (a timeout names the bounds and how to change
    them), and what to check."""
    from urllib.parse import urlsplit

    from floe_testing.service_configs import ClientTimeouts
    from floe_testing.service_directory import active_directory

    parts = urlsplit(address if "://" in address else f"//{address}")
    source = active_directory().address_source(spec, parts.hostname or "",
                                               parts.port or spec.port)

    cause = (exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}")
    cause = (cause.strip().splitlines() or [""])[0][:300]
    text = str(exc).lower()
    bounds = ""
    if isinstance(exc, TimeoutError) or "timed out" in text or "timeout" in text:
        bounds = f"\nIt did not answer in time ({ClientTimeouts().describe()})."
    raise InfrastructureError(
        f"{service} at {address} is not usable (address from {source}): {cause}{bounds}\n"
        f"Check: {check}") from None
