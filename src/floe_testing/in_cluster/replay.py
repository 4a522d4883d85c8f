"""The pods' reports, replayed here through pytest's own hooks, as if the tests had run here.

``pytest_runtest_logstart/logreport/logfinish`` (and ``pytest_collectreport``) with the
reports a shard sent: the terminal, ``--junitxml`` and the traceability report record each
test exactly as for a local run. Only what the shard could honestly report is replayed: a test
of that shard, each phase once, nothing after its teardown; a collector of its tests, once.
A failed test gets the diagnosis of the services it used (the pods may not read other pods).
A test a shard never finished is reported failed with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from floe_testing.in_cluster.durations import RecordedDurations
from floe_testing.in_cluster.objects import INVOCATION_DIR
from floe_testing.in_cluster.shards import Shard
from floe_testing.redaction import SecretValues

_PHASES = ("setup", "call", "teardown")
#: a failed test's report sections, given the test and the phase it failed in
Diagnosis = Callable[[pytest.Item, str], list[tuple[str, str]]]


class ReportReplay:
    """Replays one run's shard reports (see the module docstring)."""

    def __init__(self, config: pytest.Config, items: Mapping[str, pytest.Item],
                 secrets: SecretValues, durations: RecordedDurations,
                 diagnosis: Diagnosis) -> None:
        self.config = config
        self.items = items
        self.secrets = secrets
        self.durations = durations
        self.diagnosis = diagnosis

    def replay(self, shard: Shard, record: dict[str, Any]) -> str | None:
        """Replay one record of ``shard``; a reason when it was refused instead."""
        hook = self.config.hook
        try:
            report = hook.pytest_report_from_serializable(config=self.config, data=record)
        except Exception as exc:  # noqa: BLE001 - whatever a pod sends, the run goes on
            return f"a malformed report was ignored ({type(exc).__name__})"
        if report is None:
            return "a report of an unknown type was ignored"
        if isinstance(report, pytest.CollectReport):
            return self._collect_report(shard, report)
        if not isinstance(report, pytest.TestReport):
            return "a report of an unknown type was ignored"
        refused = self._refusal(shard, report)
        if refused is not None:
            return refused
        self._localise(report)
        item = self.items.get(report.nodeid)
        if report.failed and report.when in ("setup", "call") and item is not None:
            report.sections.extend(self.diagnosis(item, report.when))
        self.secrets.redact_report(report)
        shard.reported.add((report.nodeid, report.when))
        if report.nodeid not in shard.started_tests:
            shard.started_tests.add(report.nodeid)
            hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
        hook.pytest_runtest_logreport(report=report)
        self.durations.add(report.nodeid, report.duration)
        if report.when == "teardown":
            shard.finished_tests.add(report.nodeid)
            hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)
        return None

    @staticmethod
    def _refusal(shard: Shard, report: pytest.TestReport) -> str | None:
        if not shard.holds(report.nodeid):
            return f"a report for {report.nodeid!r}, not a test of this shard, was ignored"
        if report.when not in _PHASES:
            return f"a report for {report.nodeid!r} with no test phase was ignored"
        if report.nodeid in shard.finished_tests or (report.nodeid, report.when) in (
                shard.reported):
            return f"a second {report.when} report for {report.nodeid!r} was ignored"
        return None

    def _collect_report(self, shard: Shard, report: pytest.CollectReport) -> str | None:
        if not shard.holds_collector(report.nodeid) or (report.nodeid, "collect") in (
                shard.reported):
            return f"a collection report for {report.nodeid!r} was ignored"
        shard.reported.add((report.nodeid, "collect"))
        self.secrets.redact_report(report)
        self.config.hook.pytest_collectreport(report=report)
        return None

    def _localise(self, report: pytest.TestReport) -> None:
        """Paths in a skip's reason location as they read here."""
        if isinstance(report.longrepr, list):  # a skip's (path, line, reason), through JSON
            path, line, reason = report.longrepr
            local = str(self.config.invocation_params.dir)
            report.longrepr = (str(path).replace(INVOCATION_DIR, local, 1), line, reason)

    def unfinished(self, shard: Shard, test_id: str, problem: str) -> None:
        """A failed call (and a teardown) for a test its shard never finished."""
        item = self.items.get(test_id)
        location = item.location if item is not None else (test_id, None, test_id)
        hook = self.config.hook
        if test_id not in shard.started_tests:
            shard.started_tests.add(test_id)
            hook.pytest_runtest_logstart(nodeid=test_id, location=location)
        text = f"floe-testing: shard {shard.index} did not run this test to its end: {problem}"
        for report in (pytest.TestReport(test_id, location, {}, "failed", text, "call"),
                       pytest.TestReport(test_id, location, {}, "passed", None, "teardown")):
            self.secrets.redact_report(report)
            hook.pytest_runtest_logreport(report=report)
        shard.finished_tests.add(test_id)
        hook.pytest_runtest_logfinish(nodeid=test_id, location=location)
