"""Whether the run can create files at a path it is told to write to (a report, artifacts):
asked at start-up, so a bad path fails before any test runs, not after all of them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cannot_create_under(path: Path) -> str | None:
    """Why no file can be created at ``path`` (a file to write, or a directory to fill, that
    may not exist yet), or None when one can. The deepest existing directory on the way is
    tried for real: ``os.access`` says yes to root everywhere, /proc and a read-only mount
    still say no."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == path and path.is_file():
        existing = path.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not a writable directory"
    if path.is_file() and not os.access(path, os.W_OK):
        return "the file is read-only"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".floe-testing-probe-"):
            pass
    except OSError as exc:
        return f"creating a file in {existing} fails ({exc.strerror or exc})"
    return None
