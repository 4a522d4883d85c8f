"""Who created a resource, precisely enough to tell later that its creator is dead.

A tag names the run, the host, the process id, the process's *space* (this boot of this
machine and the PID namespace the id belongs to) and the process's start time. A PID means
something only within its space: two machines (or containers) may share a hostname and reuse
the same PIDs, so a resource is judged a dead run's leftover only from the same space, and a
PID that is alive again but started at another time is a reused one.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

RUN_ID = uuid.uuid4().hex[:12]
OWNER_PREFIX = "floe-testing"
_PROC = Path("/proc")


def process_space() -> str:
    """This boot of this machine and this process's PID namespace, as 12 hex digits ("" where
    neither can be read, e.g. without ``/proc``: then nothing is ever judged dead)."""
    try:
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return ""
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:12]


def start_time(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), or "" if unknown or gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Owner:
    """The run and process that created something."""

    run_id: str
    host: str
    pid: int
    #: :func:`process_space` of the creator ("": unknown, never judged dead)
    space: str = ""
    #: :func:`start_time` of the creator ("": unknown)
    started: str = ""

    def tag(self) -> str:
        """``floe-testing:<run>:<host>:<pid>:<space>:<start>``, stored on databases, buckets,
        namespaces and the in-cluster run's objects."""
        return ":".join((OWNER_PREFIX, self.run_id, self.host, str(self.pid), self.space,
                         self.started))

    @classmethod
    def parse(cls, tag: str | None) -> Owner | None:
        """The owner recorded in ``tag``, or None when it is not one of ours."""
        if not tag or not tag.startswith(OWNER_PREFIX + ":"):
            return None
        parts = tag.split(":")
        if len(parts) not in (4, 6) or not parts[3].isdigit():
            return None
        return cls(parts[1], parts[2], int(parts[3]), *parts[4:])

    def is_dead(self) -> bool:
        """True when the creating process is certainly gone: same host and process space,
        and its PID is free or now belongs to a process started at another time."""
        if self.host != socket.gethostname() or not self.space or (
                self.space != process_space()):
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, another user's: reused unless it started when ours did
        return bool(self.started) and start_time(self.pid) not in ("", self.started)


def current_owner() -> Owner:
    """This process as an owner."""
    pid = os.getpid()
    return Owner(RUN_ID, socket.gethostname(), pid, process_space(), start_time(pid))
