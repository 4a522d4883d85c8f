"""SIGTERM as Ctrl-C, only while this process holds cluster resources.

SIGTERM would end the process without cleanup; turned into a ``KeyboardInterrupt``, pytest runs
its orderly teardown (fixture finalizers, forwards, the cluster). Runs that never touch a
cluster keep the default SIGTERM, so embedding pytest changes nothing for them.
"""

from __future__ import annotations

import contextlib
import signal
from types import FrameType

import pytest

_HOLDING = pytest.StashKey[bool]()


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def hold_cluster_resources(config: pytest.Config) -> None:
    """From now on this process may own cluster resources (a session, or xdist workers that
    create one): SIGTERM is a Ctrl-C until the run ends (the previous handler returns then)."""
    if config.stash.get(_HOLDING, False) or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # already ours, or someone else's handler: leave it alone
    # ValueError: not the main thread (pytest embedded somewhere); leave SIGTERM alone
    with contextlib.suppress(ValueError):
        previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
        config.stash[_HOLDING] = True

        def restore() -> None:
            signal.signal(signal.SIGTERM, previous)

        config.add_cleanup(restore)
