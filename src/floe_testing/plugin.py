"""The pytest plugin (entry point ``floe_testing``): options, markers, fixtures, lifecycle.

Loading it costs no cluster work and imports no client library: settings are read and the
cluster session is created on the first request for a service, so unit-only runs stay fast.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from floe_testing import traceability
from floe_testing.cluster.options import add_options
from floe_testing.errors import FloeTestingError, fail
from floe_testing.fixtures.dagster import _floe_dagster_client, dagster_client, dagster_config
from floe_testing.fixtures.duckdb import duckdb_config, duckdb_connection
from floe_testing.fixtures.minio import (
    _floe_minio_client,
    _floe_minio_sweep,
    minio_bucket,
    minio_client,
    minio_config,
)
from floe_testing.fixtures.polaris import (
    _floe_polaris_client,
    _floe_polaris_sweep,
    polaris_catalog,
    polaris_config,
    polaris_namespace,
)
from floe_testing.fixtures.postgres import (
    _floe_postgres_client,
    _floe_postgres_sweep,
    postgres_config,
    postgres_connection,
)
from floe_testing.service_spec import SERVICE_SPECS

if TYPE_CHECKING:
    from floe_testing.cluster.session import ClusterSession
    from floe_testing.models import ServiceRequirement
    from floe_testing.redaction import SecretValues
    from floe_testing.service_directory import Endpoint

__all__ = [
    "_floe_dagster_client", "_floe_minio_client", "_floe_minio_sweep", "_floe_polaris_client",
    "_floe_polaris_sweep", "_floe_postgres_client", "_floe_postgres_sweep",
    "dagster_client", "dagster_config", "duckdb_config", "duckdb_connection", "floe_cluster",
    "minio_bucket", "minio_client", "minio_config", "polaris_catalog", "polaris_config",
    "polaris_namespace", "postgres_config", "postgres_connection",
]

_CONFIG_FIXTURES = {f"{key}_config": service for key, service in SERVICE_SPECS.items()}


class LazyCluster:
    """The process's service provider: creates the cluster session on first need."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.planned: set[ServiceRequirement] = set()
        self.session: ClusterSession | None = None

    def get(self) -> ClusterSession:
        """The session, created (not yet started) on first call."""
        if self.session is None:
            from floe_testing.cluster.progress import Progress
            from floe_testing.cluster.session import ClusterSession
            from floe_testing.cluster.settings import load_settings
            from floe_testing.cluster.shared_run import WORKER_INPUT_KEY, SharedRun

            run_dir = getattr(self.config, "workerinput", {}).get(WORKER_INPUT_KEY)
            _hold_cluster_resources(self.config)
            self.session = ClusterSession(load_settings(self.config), Progress(self.config),
                                          self.planned,
                                          SharedRun(Path(run_dir)) if run_dir else None)
        return self.session

    def endpoint(self, service: str, port: int, namespace: str) -> Endpoint:
        """See :class:`floe_testing.service_directory.ClusterProvider`."""
        return self.get().endpoint(service, port, namespace)

    def secret_data(self, name: str, namespace: str) -> dict[str, str]:
        """See :class:`floe_testing.service_directory.ClusterProvider`; its passwords and
        secrets are kept out of the run's output."""
        data = dict(self.get().secret_data(name, namespace))
        self.config.stash[SECRET_VALUES].add_secret_data(data)
        return data

    def close(self) -> bool:
        """Tear the session down if one was ever created; False (and one clear line) when
        something could not be released."""
        if self.session is not None:
            try:
                self.session.close()
            except FloeTestingError as exc:
                from floe_testing.cluster.progress import Progress

                Progress(self.config).line(f"ERROR: {exc}")
                return False
        return True


LAZY_CLUSTER = pytest.StashKey[LazyCluster]()
SECRET_VALUES: pytest.StashKey[SecretValues] = pytest.StashKey()
_RUN_DIR = pytest.StashKey[Path]()
_ACTIVE_DIRECTORY = pytest.StashKey[Any]()
_SIGTERM = pytest.StashKey[Any]()


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM would end the process without cleanup; make it a Ctrl-C, which pytest turns
    into an orderly teardown (fixture finalizers, forwards, the cluster)."""
    raise KeyboardInterrupt(f"signal {signum}")


def _hold_cluster_resources(config: pytest.Config) -> None:
    """From now on this process may own cluster resources (a session, or xdist workers that
    create one): SIGTERM becomes a Ctrl-C until ``pytest_unconfigure``. Runs that never touch
    a cluster keep the default SIGTERM, so embedding pytest changes nothing for them."""
    if _SIGTERM in config.stash or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # already ours, or someone else's handler: leave it alone
    # ValueError: not the main thread (pytest embedded somewhere); leave SIGTERM alone
    with contextlib.suppress(ValueError):
        config.stash[_SIGTERM] = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


def _contain_pytest_kind(config: pytest.Config) -> None:
    """pytest-kind is the library we drive kind with, and its options are ours; its own
    ``kind_cluster`` fixture (which downloads kind v0.17 unverified and writes ``.pytest-kind/``
    into the working directory) is not. Its plugin module is already imported and its
    registration is replayed to the fixture manager, so the fixture is taken off the module
    for this run (put back at unconfigure): it can neither be used by accident nor create a
    second cluster beside ours."""
    module = sys.modules.get("pytest_kind.plugin")
    fixture = getattr(module, "kind_cluster", None)
    if module is not None and fixture is not None:
        delattr(module, "kind_cluster")
        config.add_cleanup(lambda: setattr(module, "kind_cluster", fixture))


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    traceability.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    from floe_testing.redaction import SecretValues

    secrets = SecretValues()
    secrets.add_env()
    config.stash[SECRET_VALUES] = secrets
    traceability.configure(config)
    _validate_cluster_settings(config)
    from floe_testing.service_directory import SERVICE_DIRECTORY, ServiceDirectory, activate

    lazy = LazyCluster(config)
    config.stash[LAZY_CLUSTER] = lazy
    directory = ServiceDirectory(lazy)
    config.stash[SERVICE_DIRECTORY] = directory
    config.stash[_ACTIVE_DIRECTORY] = activate(directory)
    _contain_pytest_kind(config)


def _validate_cluster_settings(config: pytest.Config) -> None:
    """Every cluster option, ini key and env var is checked on every run, also runs that need
    no cluster: a typo fails now, naming its source, not after a cluster was created (or
    never, on a unit-only run)."""
    from floe_testing.cluster.settings import load_settings

    try:
        load_settings(config, find_kubectl=False)
    except FloeTestingError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    lazy = config.stash.get(LAZY_CLUSTER, None)
    if lazy is not None:
        lazy.close()
    if _ACTIVE_DIRECTORY in config.stash:
        from floe_testing.service_directory import deactivate

        deactivate(config.stash[_ACTIVE_DIRECTORY])
    if _SIGTERM in config.stash:
        signal.signal(signal.SIGTERM, config.stash[_SIGTERM])


def pytest_sessionstart(session: pytest.Session) -> None:
    from floe_testing.redaction import attach_to_logging

    attach_to_logging(session.config, session.config.stash[SECRET_VALUES])


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any],
                         request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
    """The secrets of every service config a fixture returns (users' overrides included); and
    an error of ours raised while setting up any fixture (a user's ``*_config`` override
    with a bad field, say) is shown as its message alone: it already names the culprit."""
    __tracebackhide__ = True
    try:
        result = yield
    except FloeTestingError as exc:
        fail(str(exc))
    configs = sys.modules.get("floe_testing.service_configs")
    if configs is not None and isinstance(result, configs.ServiceSettings):
        request.config.stash[SECRET_VALUES].add_settings(result)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """No known secret leaves in a report: terminal, junit XML, every traceback style."""
    __tracebackhide__ = True
    report: pytest.TestReport = yield
    if report.failed and report.when in ("setup", "call"):
        _add_cluster_diagnosis(item, report)
    item.config.stash[SECRET_VALUES].redact_report(report)
    return report


def _add_cluster_diagnosis(item: pytest.Item, report: pytest.TestReport) -> None:
    """A failed test that used services of the cluster gets a report section per service:
    its pods' state, recent events and last log lines, so the server side of the failure is
    one scroll away (secrets are masked like everywhere else)."""
    lazy = item.config.stash[LAZY_CLUSTER]
    session = lazy.session
    if session is None or not session.started:
        return
    for requirement in sorted(planned_services([item]), key=lambda r: r.name):
        try:
            text = session.service_diagnosis(requirement.name, requirement.namespace)
        except Exception as exc:  # noqa: BLE001 - a diagnosis never hides the failure itself
            text = f"(no diagnosis: {type(exc).__name__}: {exc})"
        report.sections.append(
            (f"floe-testing: svc/{requirement.name} in {requirement.namespace}", text))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    __tracebackhide__ = True
    report: pytest.CollectReport = yield
    collector.config.stash[SECRET_VALUES].redact_report(report)
    return report


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Plan which services the selected tests need, so they are provisioned together."""
    config.stash[LAZY_CLUSTER].planned.update(planned_services(items))


def planned_services(items: list[pytest.Item]) -> set[ServiceRequirement]:
    """Services needed by these items that env vars do not already provide."""
    needed: set[ServiceRequirement] = set()
    for item in items:
        names = getattr(item, "fixturenames", ())
        for fixture, service in _CONFIG_FIXTURES.items():
            if fixture in names and not service.endpoint_from_env():
                from floe_testing.models import ServiceRequirement

                needed.add(ServiceRequirement(name=service.service_name, port=service.port,
                                              namespace=service.k8s_namespace))
    base = sys.modules.get("floe_testing.base.integration")
    if base is not None:  # no test module imported it: no item can be an IntegrationTestBase
        for item in items:
            cls = getattr(item, "cls", None)
            if isinstance(cls, type) and issubclass(cls, base.IntegrationTestBase):
                needed.update(getattr(cls, "required_services", ()))
    return needed


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: give every worker the run directory they coordinate through."""
    from floe_testing.cluster.shared_run import WORKER_INPUT_KEY

    config = node.config
    _hold_cluster_resources(config)  # a worker may create the cluster this process releases
    if _RUN_DIR not in config.stash:
        config.stash[_RUN_DIR] = Path(tempfile.mkdtemp(prefix="floe-testing-run-"))
    node.workerinput[WORKER_INPUT_KEY] = str(config.stash[_RUN_DIR])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop forwards and delete what must go, also after failures and Ctrl-C. Under xdist
    the controller does the deleting, after the last worker is done."""
    config = session.config
    lazy = config.stash.get(LAZY_CLUSTER, None)
    if lazy is not None and not lazy.close() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # something was left behind
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is not None:
        _release_shared_run(config, run_dir)


def _release_shared_run(config: pytest.Config, run_dir: Path) -> None:
    import shutil

    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.session import release
    from floe_testing.cluster.settings import load_settings
    from floe_testing.cluster.shared_run import SharedRun

    shared = SharedRun(run_dir)
    try:
        info = shared.cluster()
        if info is not None:
            release(load_settings(config), info, shared.created(), Progress(config))
    except FloeTestingError as exc:
        Progress(config).line(f"could not release the cluster: {exc}")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        del config.stash[_RUN_DIR]


@pytest.fixture(scope="session")
def floe_cluster(request: pytest.FixtureRequest) -> Iterator[ClusterSession]:
    """The cluster session, started with the planned services (cluster access for tests)."""
    lazy = request.config.stash[LAZY_CLUSTER]
    try:
        session = lazy.get()
        session.provision(lazy.planned)
    except FloeTestingError as exc:
        fail(str(exc))
    yield session
    if not lazy.close():
        fail("the cluster could not be released: see the floe-testing ERROR line above")
