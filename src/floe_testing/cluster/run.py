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

from floe_testing.errors import FloeTestingError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pykube

    from floe_testing.cluster.artifacts import FailureArtifacts
    from floe_testing.cluster.session import ClusterSession
    from floe_testing.cluster.settings import ClusterSettings
    from floe_testing.service_requirement import ServiceRequirement

SETTINGS: pytest.StashKey[ClusterSettings] = pytest.StashKey()
#: the services the selected tests need (filled at collection, read when the session starts)
PLANNED: pytest.StashKey[set[ServiceRequirement]] = pytest.StashKey()
CLUSTER_SESSION: pytest.StashKey[ClusterSession] = pytest.StashKey()
#: the run's failure artifacts writer, with ``--floe-artifacts`` only
ARTIFACTS: pytest.StashKey[FailureArtifacts] = pytest.StashKey()
#: the xdist controller's run directory, shared with every worker
_RUN_DIR = pytest.StashKey[Path]()
WORKER_INPUT_KEY = "floe_testing_run_dir"


def cluster_session(config: pytest.Config) -> ClusterSession:
    """The run's session, created (not yet started) on first call."""
    session = config.stash.get(CLUSTER_SESSION, None)
    if session is None:
        from floe_testing.cluster.interrupts import hold_cluster_resources
        from floe_testing.cluster.progress import Progress
        from floe_testing.cluster.session import ClusterSession
        from floe_testing.cluster.shared_run import SharedRun
        from floe_testing.redaction import SECRET_VALUES

        hold_cluster_resources(config)  # a session is made at the first need of a cluster
        run_dir = getattr(config, "workerinput", {}).get(WORKER_INPUT_KEY)
        session = ClusterSession(
            config.stash[SETTINGS], Progress(config), config.stash[PLANNED],
            SharedRun(Path(run_dir)) if run_dir else None,
            secrets=config.stash[SECRET_VALUES])
        config.stash[CLUSTER_SESSION] = session
    return session


def prepare_failure_artifacts(config: pytest.Config) -> None:
    """With ``--floe-artifacts``: the run's artifacts writer (the process that starts the run
    empties a previous run's files first). Never in a shard pod: the outer run writes."""
    settings = config.stash[SETTINGS]
    if settings.artifacts_dir is None or settings.stack_provided:
        return
    from floe_testing.cluster.artifacts import FailureArtifacts
    from floe_testing.redaction import SECRET_VALUES

    artifacts = FailureArtifacts(settings.artifacts_dir, config.stash[SECRET_VALUES].redact)
    if not hasattr(config, "workerinput"):
        try:
            artifacts.prepare()
        except OSError as exc:
            raise FloeTestingError(f"failure artifacts directory {settings.artifacts_dir} "
                                   f"cannot be prepared: {exc}") from None
    config.stash[ARTIFACTS] = artifacts


def failed_test_sections(config: pytest.Config, nodeid: str, phase: str,
                         requirements: Iterable[ServiceRequirement]) -> list[tuple[str, str]]:
    """For a test that failed using services: a report section per service with its pods'
    diagnosis, and with ``--floe-artifacts`` its artifacts written, and a section saying
    where. Nothing before the cluster has started, nor in a shard pod."""
    session = config.stash.get(CLUSTER_SESSION, None)
    if session is None:
        return []
    requirements = list(requirements)
    sections = session.diagnosis_sections(requirements)
    artifacts = config.stash.get(ARTIFACTS, None)
    if artifacts is None or not session.started:
        return sections
    served = [r for r in requirements if session.serves(r)]
    if not served:
        return sections
    try:
        folder = artifacts.for_test(session.api, nodeid, phase, served)
    except Exception as exc:  # noqa: BLE001 - artifacts never hide the failure
        return [*sections, ("floe-testing: artifacts",
                            f"could not be written: {type(exc).__name__}: {exc}")]
    names = ", ".join(f"svc/{r.name}" for r in served)
    return [*sections, ("floe-testing: artifacts",
                        f"pod logs, events and state of {names}: {folder}")]


def write_run_artifacts(session: pytest.Session) -> None:
    """With ``--floe-artifacts`` and a failed run: the stack's state, once, before the
    cluster goes (the serial run's session, or the xdist controller through the cluster the
    workers recorded)."""
    config = session.config
    artifacts = config.stash.get(ARTIFACTS, None)
    ok = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if (artifacts is None or hasattr(config, "workerinput")
            or (session.exitstatus in ok and not session.testsfailed)):
        return
    settings = config.stash[SETTINGS]
    from floe_testing.cluster.progress import Progress

    progress = Progress(config)
    try:
        api = _api_of_run(config)
        if api is None:
            return
        from floe_testing.cluster.manifests import components
        from floe_testing.cluster.sources import load_layers

        docs = load_layers(settings.manifests_dir, settings.extra_manifests,
                           settings.render_settings())
        with progress.step(f"failure artifacts of the run to {artifacts.directory}"):
            artifacts.for_run(api, docs, components(docs),
                              f"exit status {int(session.exitstatus)}, {session.testsfailed} "
                              "failed test(s); manifests from "
                              f"{settings.manifests_source}: {settings.manifests_dir}")
    except Exception as exc:  # noqa: BLE001 - artifacts never change how the run ends
        progress.line(f"failure artifacts of the run could not be written: "
                      f"{type(exc).__name__}: {exc}")


def _api_of_run(config: pytest.Config) -> pykube.HTTPClient | None:
    """A client of the run's cluster, if one was used: this process's session, or (xdist
    controller) the cluster the workers recorded."""
    session = config.stash.get(CLUSTER_SESSION, None)
    if session is not None:
        return session.api if session.started else None
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is None:
        return None
    from floe_testing.cluster.kubeconfig import connect, connect_in_cluster
    from floe_testing.cluster.shared_run import SharedRun

    record = SharedRun(run_dir).cluster()
    if record is None:
        return None
    access = (connect(Path(record.kubeconfig), record.source or "kubeconfig")
              if record.kubeconfig else connect_in_cluster())
    return access.api


def end_cluster_session(config: pytest.Config) -> bool:
    """Close the session if one was created; False (and one clear line) when something could
    not be released."""
    session = config.stash.get(CLUSTER_SESSION, None)
    if session is None:
        return True
    from floe_testing.cluster.interrupts import finishing_before_interrupts

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
    from floe_testing.cluster.interrupts import hold_cluster_resources

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
