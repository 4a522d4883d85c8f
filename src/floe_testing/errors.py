"""Exception types that carry an actionable, one-screen message.

Every error the plugin raises on purpose derives from :class:`FloeTestingError`, so the plugin
can print its message without a traceback (the message already says what and where).
"""

from __future__ import annotations

from typing import NoReturn

import pytest


class FloeTestingError(Exception):
    """Base for errors whose message alone tells the user what broke and how to fix it."""


class ConfigError(FloeTestingError, ValueError):
    """A configuration value (env var, ini option, fixture override) is invalid or missing."""


class InfrastructureError(FloeTestingError):
    """A service or the cluster the test needs cannot be reached or brought up."""


def fail(message: str) -> NoReturn:
    """Fail the test with ``message`` only: no traceback and no chained exception, because the
    message already says what broke, where, and how to fix it."""
    raise pytest.fail.Exception(message, pytrace=False) from None
