"""The run's cluster session, created on first need, and its end.

The settings are read (and checked) at configure; the session is created only when a test needs
a service, with the run's progress printer, the xdist run directory, and what makes it safe:
SIGTERM handled while it holds resources, the data of Secrets it reads masked in every report.
Importing the session is deferred to that moment, so a run without services pays nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from floe_testing.cluster.interrupts import finishing_before_interrupts, hold_cluster_resources
from floe_testing.errors import FloeTestingError

if TYPE_CHECKING:
    from floe_testing.cluster.session import ClusterSession
    from floe_testing.cluster.settings import ClusterSettings
    from floe_testing.service_requirement import ServiceRequirement

SETTINGS: pytest.StashKey[ClusterSettings] = pytest.StashKey()
#: the services the selected tests need (filled at collection, read when the session starts)
PLANNED: pytest.StashKey[set[ServiceRequirement]] = pytest.StashKey()
CLUSTER_SESSION: pytest.StashKey[ClusterSession] = pytest.StashKey()
#: the xdist controller's run directory, shared with every worker
_RUN_DIR = pytest.StashKey[Path]()
WORKER_INPUT_KEY = "floe_testing_run_dir"


def cluster_session(config: pytest.Config) -> ClusterSession:
    """The run's session, created (not yet started) on first call."""
    session = config.stash.get(CLUSTER_SESSION, None)
    if session is None:
        from floe_testing.cluster.progress import Progress
        from floe_testing.cluster.session import ClusterSession
        from floe_testing.cluster.settings import find_kubectl
        from floe_testing.cluster.shared_run import SharedRun
        from floe_testing.redaction import SECRET_VALUES

        run_dir = getattr(config, "workerinput", {}).get(WORKER_INPUT_KEY)
        session = ClusterSession(
            config.stash[SETTINGS], Progress(config), config.stash[PLANNED],
            SharedRun(Path(run_dir)) if run_dir else None,
            find_kubectl=lambda: find_kubectl(config),
            on_start=lambda: hold_cluster_resources(config),
            on_secret=config.stash[SECRET_VALUES].add_secret_data)
        config.stash[CLUSTER_SESSION] = session
    return session


def end_cluster_session(config: pytest.Config) -> bool:
    """Close the session if one was created; False (and one clear line) when something could
    not be released."""
    session = config.stash.get(CLUSTER_SESSION, None)
    if session is None:
        return True
    try:
        with finishing_before_interrupts():
            session.close()
    except FloeTestingError as exc:
        session.progress.line(f"ERROR: {exc}")
        return False
    return True


def share_with_worker(config: pytest.Config, workerinput: dict[str, object]) -> None:
    """xdist controller: give a worker the run directory the workers coordinate through; from
    now on a worker may create the cluster this process releases."""
    hold_cluster_resources(config)
    if _RUN_DIR not in config.stash:
        config.stash[_RUN_DIR] = Path(tempfile.mkdtemp(prefix="floe-testing-run-"))
    workerinput[WORKER_INPUT_KEY] = str(config.stash[_RUN_DIR])


def release_shared_run(config: pytest.Config) -> None:
    """xdist controller, after the last worker: release what the workers used."""
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is None:
        return
    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.shared_run import SharedRun

    progress = Progress(config)
    try:
        SharedRun(run_dir).release(config.stash[SETTINGS], progress)
    except FloeTestingError as exc:
        progress.line(f"could not release the cluster: {exc}")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        del config.stash[_RUN_DIR]
