"""The pytest plugin (entry point ``floe_testing``): hooks only.

Each hook hands its work to the module that owns the concern: options (``cluster.options``,
``traceability``), the run's service directory (``service_directory``), the cluster session
and its end (``cluster.run``), what tests need (``planning``), masking secrets (``redaction``),
and pytest-kind's containment (``cluster.kind``). The services' fixtures live with their
declarations (``services``), registered at configure. Loading the plugin does no cluster work
and imports no client library: a unit-only run stays fast.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Generator, Mapping
from typing import Any

import pytest

from floe_testing import traceability
from floe_testing.cluster.options import add_options
from floe_testing.cluster.run import (
    PLANNED,
    SETTINGS,
    end_cluster_session,
    failed_test_sections,
    prepare_failure_artifacts,
    release_shared_run,
    share_with_worker,
    write_run_artifacts,
)
from floe_testing.errors import FloeTestingError, fail
from floe_testing.fixtures.cluster import floe_cluster
from floe_testing.in_cluster.options import add_in_cluster_options
from floe_testing.in_cluster.settings import (
    IN_CLUSTER_SETTINGS,
    SHARD_EXIT,
    load_in_cluster_settings,
)
from floe_testing.location import running_as_shard
from floe_testing.planning import needed_services
from floe_testing.redaction import SECRET_VALUES
from floe_testing.services.registry import SERVICES

__all__ = ["floe_cluster"]  # the built-in services' fixtures: their modules, registered below

_DIRECTORY_TOKEN = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    add_options(parser, pytest_kind_blocked=pluginmanager.is_blocked("pytest-kind"))
    add_in_cluster_options(parser)
    traceability.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Every cluster option, ini key and env var is checked on every run, also runs that need
    no cluster: a typo fails now, naming its source, not after a cluster was created."""
    from floe_testing.cluster.settings import load_settings
    from floe_testing.redaction import SecretNotMaskedWarning, SecretValues, SecretWarnings
    from floe_testing.service_directory import SERVICE_DIRECTORY, ServiceDirectory, activate
    from floe_testing.services import builtin_service_modules
    from floe_testing.services.registry import ServiceDiscovery, ServiceRegistry

    secrets = SecretValues()
    config.stash[SECRET_VALUES] = secrets
    # the secret env vars of every service declared at configure; one too short to mask is
    # said in the warnings summary, which records no warning yet at configure
    with warnings.catch_warnings(record=True) as unmaskable:
        warnings.simplefilter("always", SecretNotMaskedWarning)
        registry = ServiceRegistry(secrets)
        config.stash[SERVICES] = registry
        # every plugin registered (before this line too: the hook is historic) is scanned for
        # declared services; the built-in services' modules are plugins: their fixtures are
        # ours
        config.pluginmanager.register(ServiceDiscovery(registry), "floe-testing-services")
        for module in builtin_service_modules():
            if not config.pluginmanager.is_registered(module):
                config.pluginmanager.register(module, f"floe-testing-{module.__name__}")
    config.pluginmanager.register(
        SecretWarnings(secrets, [str(w.message) for w in unmaskable]),
        "floe-testing-secret-warnings")
    traceability.configure(config)
    try:
        config.stash[SETTINGS] = load_settings(config, resolve_kubectl=False)
        config.stash[IN_CLUSTER_SETTINGS] = load_in_cluster_settings(config)
        prepare_failure_artifacts(config)
    except FloeTestingError as exc:
        raise pytest.UsageError(str(exc)) from None
    if running_as_shard() and not hasattr(config, "workerinput"):  # xdist: its controller
        from floe_testing.in_cluster.frames import ShardReportSender

        config.pluginmanager.register(ShardReportSender.from_environment(config),
                                      "floe-testing-shard-reports")
    config.stash[PLANNED] = set()
    directory = ServiceDirectory(config, registry, secrets)
    config.stash[SERVICE_DIRECTORY] = directory
    config.stash[_DIRECTORY_TOKEN] = activate(directory)
    if "pytest_kind.plugin" in sys.modules:  # loaded (not -p no:pytest-kind): contain it
        from floe_testing.cluster.kind import contain_pytest_kind

        contain_pytest_kind(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _DIRECTORY_TOKEN in config.stash:
        from floe_testing.service_directory import deactivate

        deactivate(config.stash[_DIRECTORY_TOKEN])


def pytest_sessionstart(session: pytest.Session) -> None:
    from floe_testing.redaction import attach_to_logging

    attach_to_logging(session.config, session.config.stash[SECRET_VALUES])


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any],
                         request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
    """The secrets of every service config a fixture returns (users' overrides included, a
    dict too); and an error of ours raised while setting up any fixture (a user's
    ``*_config`` override with a bad field, say) is shown as its message alone: it already
    names the culprit. A fixture of a wider scope fails every test that asks for it again
    with that same one screen (pytest re-raises what it cached, so the cache gets it)."""
    __tracebackhide__ = True
    try:
        result = yield
    except FloeTestingError as exc:
        try:
            fail(str(exc))
        except pytest.fail.Exception as one_screen:
            _cache_instead(fixturedef, exc, one_screen)
            raise
    secrets = request.config.stash[SECRET_VALUES]
    configs = sys.modules.get("floe_testing.services.settings")
    if configs is not None and isinstance(result, configs.ServiceSettings):
        secrets.add_settings(result, fixturedef.argname)
    elif isinstance(result, Mapping) and fixturedef.argname.endswith("_config"):
        secrets.add_mapping(result, f"the dict the {fixturedef.argname} fixture returned")
    return result


def _cache_instead(fixturedef: pytest.FixtureDef[Any], error: BaseException,
                   failure: BaseException) -> None:
    """Make the error a fixture's cache holds (pytest re-raises it to every later test that
    asks) ``failure`` instead. The cache holds the exception (pytest 8.2) or it with its
    traceback (later)."""
    cached: Any = fixturedef.cached_result
    if cached is None or cached[2] is None:
        return
    if cached[2] is error:
        fixturedef.cached_result = (None, cached[1], failure)  # type: ignore[assignment]
    elif isinstance(cached[2], tuple) and cached[2][0] is error:
        fixturedef.cached_result = (None, cached[1], (failure, failure.__traceback__))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the cluster's services carries their pods' diagnosis (and with
    ``--floe-artifacts`` gets its artifacts written); no known secret leaves in a report
    (terminal, junit XML, every traceback style)."""
    __tracebackhide__ = True
    report: pytest.TestReport = yield
    if report.failed and report.when in ("setup", "call"):
        report.sections.extend(failed_test_sections(
            item.config, item.nodeid, report.when,
            needed_services([item], item.config.stash[SERVICES])))
    item.config.stash[SECRET_VALUES].redact_report(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    __tracebackhide__ = True
    report: pytest.CollectReport = yield
    collector.config.stash[SECRET_VALUES].redact_report(report)
    return report


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Collector | None:
    """A chart's test hooks are tests, collected from its ``Chart.yaml``
    (``cluster.chart_tests``); not with ``--floe-in-cluster`` (they create pods, which the
    shard pods' read-only account may not)."""
    if file_path.name != "Chart.yaml" or parent.config.stash[IN_CLUSTER_SETTINGS].enabled:
        return None
    from floe_testing.cluster.chart_tests import collect_chart_tests

    return collect_chart_tests(file_path, parent)


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Module | pytest.Class, name: str,
                              obj: object) -> Generator[None, object, object]:
    """A parametrize id made of a secret is masked in the test's id itself, so the terminal,
    JUnit and the traceability report show the same masked id."""
    made = yield
    return collector.config.stash[SECRET_VALUES].masked_tests(collector, made)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Plan which services the selected tests need, so they are provisioned together."""
    config.stash[PLANNED].update(needed_services(items, config.stash[SERVICES]))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """``--floe-in-cluster``: the selected tests run in pods, and their reports come back here
    (``in_cluster.runner``); otherwise pytest's own loop."""
    settings = session.config.stash[IN_CLUSTER_SETTINGS]
    if (not settings.enabled or session.config.option.collectonly or not session.items
            or (session.testsfailed and not session.config.option.continue_on_collection_errors)):
        return None  # pytest's loop: it stops a run whose collection failed, as usual
    from floe_testing.in_cluster.runner import run_in_cluster

    run_in_cluster(session, settings)
    return True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: give every worker the run directory they coordinate through."""
    share_with_worker(node.config, node.workerinput)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The one end of the cluster session, after every fixture is torn down (also after
    failures and Ctrl-C): forwards stopped, what must go deleted. Under xdist the controller
    releases, after the last worker is done."""
    config = session.config
    shard_exit = config.stash.get(SHARD_EXIT, None)
    if shard_exit is not None:
        from floe_testing.in_cluster.exit_codes import worst

        session.exitstatus = worst([session.exitstatus, shard_exit])
    write_run_artifacts(session)
    if not end_cluster_session(config) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # something was left behind
    release_shared_run(config)
