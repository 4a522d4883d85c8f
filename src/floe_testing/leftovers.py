"""Sweeping up what runs that died (SIGKILL, OOM) left on the services.

Every database, bucket and Iceberg namespace a fixture creates carries its owner tag (run id,
host, pid). The first time a session uses a service, resources whose owner process is gone
are removed, and a report line says what was collected. Resources of live runs (another
terminal, another xdist worker) are never touched, and neither are those of a run from an
earlier boot (see :meth:`~floe_testing.run_identity.Owner.is_dead`: it cannot be told from a
live run on another machine of the same hostname).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from floe_testing.run_identity import Owner

if TYPE_CHECKING:
    import pytest

Candidate = tuple[str, str | None]  # resource name, owner tag found on it


def dead(candidates: Iterable[Candidate]) -> list[str]:
    """Names of the resources whose recorded owner is a process that no longer exists."""
    found = []
    for name, tag in candidates:
        owner = Owner.parse(tag)
        if owner is not None and owner.is_dead():
            found.append(name)
    return found


def sweep(config: pytest.Config, what: str, names: list[str],
          remove: Callable[[str], None]) -> None:
    """Remove each leftover; report what was collected (and what could not be)."""
    if not names:
        return
    from floe_testing.cluster.progress import Progress

    failed = []
    for name in names:
        try:
            remove(name)
        except Exception as exc:  # noqa: BLE001 - one stuck leftover must not hide the rest
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    collected = len(names) - len(failed)
    line = f"collected {collected} leftover {what} of dead runs"
    if collected:
        line += ": " + ", ".join(n for n in names if not any(f.startswith(n) for f in failed))
    if failed:
        line += f"; could not remove {', '.join(failed)}"
    Progress(config).line(line)
