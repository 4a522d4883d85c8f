"""Waiting on conditions, built on tenacity, with timeouts that explain themselves: what the
plugin's own code waits with (the public module :mod:`floe_testing.polling` adds
``wait_for_service``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryError, Retrying, retry_if_exception, retry_if_result


class PollingConfig(BaseModel):
    """How long and how often a wait polls, and what to call it in errors."""

    model_config = ConfigDict(frozen=True)

    timeout: float = Field(default=30.0, ge=1.0, description="Max wait time in seconds")
    interval: float = Field(default=0.5, ge=0.1, description="Poll interval in seconds")
    description: str = Field(default="condition", description="Description for error messages")


class PollingTimeoutError(TimeoutError):
    """A wait ran out of time; the message says what, how long, how often and the last error."""

    def __init__(
        self, description: str, elapsed: float, attempts: int, last_error: BaseException | None
    ) -> None:
        self.description = description
        self.elapsed = elapsed
        self.attempts = attempts
        self.last_error = last_error
        message = f"Timed out after {elapsed:.1f}s waiting for {description} ({attempts} attempts)"
        if last_error is not None:
            message += f"; last error: {type(last_error).__name__}: {last_error}"
        super().__init__(message)


class NotReady(Exception):
    """Raised by a condition to say "not yet, and here is why"; the timeout error quotes it."""


class ConditionFailed(Exception):
    """Raised by a condition to stop waiting at once: the awaited state can no longer come."""


def wait_for_condition(
    condition: Callable[[], object], config: PollingConfig | None = None, *,
    raise_on_timeout: bool = True,
) -> bool:
    """Poll until ``condition()`` returns a true value; an exception from it means "not yet".

    The data model's "poll until condition() returns True" is read as Python reads a
    condition: any truthy result counts (a row, a non-empty list, a match object), not only
    ``True``; the wait still returns ``True``. :class:`ConditionFailed` propagates
    immediately, so a wait can fail fast (a crash loop, a failed Job) instead of running into
    its timeout. It raises only if the condition was not met within the timeout: checks are
    ``interval`` apart, and the last one is made at the deadline itself (the wait before it
    is shortened), never one interval early. With ``raise_on_timeout=False`` a timeout
    returns False instead (floe's own helper did so); :class:`ConditionFailed` still
    propagates.
    """
    __tracebackhide__ = True
    cfg = config or PollingConfig()
    start = time.monotonic()
    deadline = start + cfg.timeout
    retrying = Retrying(
        stop=lambda _: time.monotonic() >= deadline,
        wait=lambda _: max(0.0, min(cfg.interval, deadline - time.monotonic())),
        retry=retry_if_result(lambda result: not result)
        | retry_if_exception(lambda exc: not isinstance(exc, ConditionFailed)),
        reraise=False,
    )
    try:
        retrying(condition)
    except RetryError as exc:
        if not raise_on_timeout:
            return False
        last = exc.last_attempt
        raise PollingTimeoutError(
            cfg.description, time.monotonic() - start, last.attempt_number, last.exception()
        ) from None
    return True
