"""Child processes that cannot outlive us: parent-death signal, own session, firm stop."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the thread that started us ends (or we are killed)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: Sequence[str | Path], **kwargs: Any) -> subprocess.Popen[str]:
    """Start a child in its own session (a terminal's Ctrl-C is ours to handle, not its) that
    the kernel terminates if this process dies without cleaning up."""
    preexec: Callable[[], None] | None = _die_with_parent if sys.platform == "linux" else None
    return subprocess.Popen(
        [str(a) for a in args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=preexec,  # noqa: PLW1509 - prctl only, no locks taken
        **kwargs,
    )


def stop(proc: subprocess.Popen[str], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
