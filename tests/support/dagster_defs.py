"""Jobs the local Dagster webserver loads (``dagster-webserver -f``) for the integration tier.

* ``ok_job`` succeeds;
* ``fail_job`` raises in its op, so the run ends in FAILURE;
* ``slow_job`` blocks on an event nobody sets (for up to ``wait_seconds``), so a short wait
  times out; tests terminate it afterwards.
"""

# No ``from __future__ import annotations``: Dagster inspects the ``context`` annotation at
# definition time and rejects a string.
import threading

from dagster import Config, Definitions, OpExecutionContext, job, op


@op
def say_ok(context: OpExecutionContext) -> int:
    context.log.info("ok")
    return 1


@job
def ok_job() -> None:
    say_ok()


class FailureConfig(Config):
    message: str = "fail_job fails on purpose"


@op
def fail_on_purpose(config: FailureConfig) -> None:
    raise RuntimeError(config.message)


@job
def fail_job() -> None:
    fail_on_purpose()


class SlowConfig(Config):
    wait_seconds: float = 600.0


@op
def block(context: OpExecutionContext, config: SlowConfig) -> None:
    """Wait on an event that is never set: the run stays STARTED until it is terminated."""
    finished = threading.Event().wait(timeout=config.wait_seconds)
    context.log.info(f"slow op done (event set: {finished})")


@job
def slow_job() -> None:
    block()


defs = Definitions(jobs=[ok_job, fail_job, slow_job])
