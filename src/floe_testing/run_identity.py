"""Who created a resource: run id, host and pid, so leftovers of dead runs can be recognised."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

RUN_ID = uuid.uuid4().hex[:12]
OWNER_PREFIX = "floe-testing"


@dataclass(frozen=True)
class Owner:
    """The run and process that created something."""

    run_id: str
    host: str
    pid: int

    def tag(self) -> str:
        """``floe-testing:<run>:<host>:<pid>``, stored on databases, buckets and namespaces."""
        return f"{OWNER_PREFIX}:{self.run_id}:{self.host}:{self.pid}"

    @classmethod
    def parse(cls, tag: str | None) -> Owner | None:
        """The owner recorded in ``tag``, or None when it is not one of ours."""
        if not tag or not tag.startswith(OWNER_PREFIX + ":"):
            return None
        parts = tag.split(":")
        if len(parts) != 4 or not parts[3].isdigit():
            return None
        return cls(parts[1], parts[2], int(parts[3]))

    def is_dead(self) -> bool:
        """True when the owning process is gone (only decidable on the same host)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def current_owner() -> Owner:
    """This process as an owner."""
    return Owner(RUN_ID, socket.gethostname(), os.getpid())
