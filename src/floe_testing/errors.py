"""Exception types that carry an actionable, one-screen message.

Every error the plugin raises on purpose derives from :class:`FloeTestingError`, so the plugin
can print its message without a traceback (the message already says what and where).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest


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
