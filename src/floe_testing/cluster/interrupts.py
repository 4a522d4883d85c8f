"""Signals and cluster resources: SIGTERM as Ctrl-C while this process holds any, and a release
that an interrupt cannot cut in half.

SIGTERM would end the process without cleanup; turned into a ``KeyboardInterrupt``, pytest runs
its orderly teardown (fixture finalizers, forwards, the cluster). Runs that never touch a
cluster keep the default SIGTERM, so embedding pytest changes nothing for them.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def finishing_before_interrupts() -> Iterator[None]:
    """Around releasing the cluster: a first Ctrl-C (or SIGTERM) is held until the release is
    done and then raised, so an interrupt cannot leave half a release behind; a second one
    raises at once (a way out of a release that hangs)."""
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if held:
            raise KeyboardInterrupt(f"signal {signum} (again, while releasing the cluster)")
        held.append(signum)

    try:
        previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals are not ours to handle here
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if held:
        raise KeyboardInterrupt(f"signal {held[0]} (held until the cluster was released)")
