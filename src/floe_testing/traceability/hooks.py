"""The pytest hooks of the traceability feature, held by one plugin object per run.

Data flow, serial and under pytest-xdist alike:

1. *Collection* (serial process, or every xdist worker): each collector's report is checked for
   items whose ``requirement`` markers are malformed; such a collector becomes a collection
   error naming every offending test and ID (``ERROR collecting ...``), exactly as an import
   error would, so it shows up the same way under xdist and ``--collect-only``.
2. ``pytest_collection_finish``: the selected items' claims (node ID -> requirement IDs), the
   tests lacking a marker (if required) and the ``time.sleep`` findings (if forbidden) are
   gathered into :class:`CollectedData`. A worker stores it as JSON in
   ``config.workeroutput``; xdist ships that to the controller with the worker's shutdown,
   where ``pytest_testnodedown`` merges it. (Every worker collects the whole selection, so the
   merge is a union and yields what a serial run yields.)
3. ``pytest_runtest_logreport`` records each test's outcome where reports arrive: in the
   serial process, or on the xdist controller (which receives every worker's reports).
4. ``pytest_sessionfinish`` (serial process or controller only): builds the report, writes it
   once, and applies the gates. A failed gate sets ``session.exitstatus`` to
   ``pytest.ExitCode.TESTS_FAILED`` (1) when the run would otherwise have exited 0 or 5 (no
   tests collected); a run that already failed keeps its own exit status.
5. ``pytest_terminal_summary`` prints the outcome (``summary``).

What collection finds and checks is ``collection``'s; this plugin holds the run's state and
hands each hook's work over.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from floe_testing.traceability.collection import (
    INVALID_MARKERS,
    CollectedData,
    in_scope,
    invalid_marker_report,
    relative,
    scan_for_sleep,
)
from floe_testing.traceability.ids import (
    MARKER_NAME,
    InvalidPatternError,
    MarkerProblem,
    check_marker_args,
    compile_pattern,
)
from floe_testing.traceability.options import TraceabilitySettings, read_settings

if TYPE_CHECKING:
    from floe_testing.traceability.report import Outcome, TraceabilityReport
    from floe_testing.traceability.scopes import Scope
    from floe_testing.traceability.spec import Spec

PLUGIN_NAME = "floe-traceability"
WORKEROUTPUT_KEY = "floe_testing_traceability"
_OUTCOME_RANK = {"passed": 1, "skipped": 2, "failed": 3}


class TraceabilityPlugin:
    """Holds the traceability state of one pytest run (see the module docstring)."""

    def __init__(self, config: pytest.Config) -> None:
        """Validate options early, so a bad spec path fails before any test runs."""
        self.config = config
        self.settings: TraceabilitySettings = read_settings(config)
        try:
            self.pattern = compile_pattern(self.settings.id_pattern)
        except InvalidPatternError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.is_worker = hasattr(config, "workerinput")
        self.spec: Spec | None = None
        if self.settings.spec_paths and not self.is_worker:
            from floe_testing.traceability.spec import SpecError, load_spec

            try:
                self.spec = load_spec(self.settings.spec_paths, self.pattern)
            except SpecError as exc:
                raise pytest.UsageError(str(exc)) from None
        self.scopes: list[Scope] = []
        if self.settings.require_markers_scopes:
            from floe_testing.traceability.scopes import parse_scopes

            self.scopes = parse_scopes(
                self.settings.require_markers_scopes, config.invocation_params.dir
            )
        self.data = CollectedData()
        self.outcomes: dict[str, Outcome] = {}
        self.report: TraceabilityReport | None = None
        self.gate_failures: list[str] = []
        #: why the report could not be written (the summary says it instead of "written")
        self.write_error: str | None = None
        self._flagged: set[str] = set()

    # -- markers ------------------------------------------------------------------------------

    def item_requirements(self, item: pytest.Item) -> tuple[list[str], list[MarkerProblem]]:
        """The valid IDs of all ``requirement`` markers on the item (own and inherited)."""
        ids: list[str] = []
        problems: list[MarkerProblem] = []
        for mark in item.iter_markers(MARKER_NAME):
            mark_ids, mark_problems = check_marker_args(mark.args, dict(mark.kwargs), self.pattern)
            ids.extend(i for i in mark_ids if i not in ids)
            problems.extend(mark_problems)
        return ids, problems

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        """A collector whose items have malformed requirement markers becomes an error (on
        its report rather than a ``UsageError``: one screen, every offending test of the
        module, through xdist like any other collection error)."""
        report = yield
        invalid_marker_report(report, self.item_requirements, self._flagged)
        return report

    # -- collection ---------------------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Gather claims, missing markers and sleep findings of the selected items."""
        late: list[str] = []
        for item in session.items:
            self.data.collected.add(item.nodeid)
            ids, problems = self.item_requirements(item)
            if problems and item.nodeid not in self._flagged:
                late.extend(f"  {item.nodeid}: {p.message}" for p in problems)
            if ids:
                self.data.claims[item.nodeid] = ids
            elif self.settings.require_markers and in_scope(item, self.scopes):
                self.data.unmarked.add(item.nodeid)
        if late:
            # Markers added after collection (e.g. by another plugin's modifyitems) escape the
            # collector check above; they still must not pass silently.
            raise pytest.UsageError("\n".join([INVALID_MARKERS, *late]))
        if self.settings.forbid_sleep:
            self.data.sleep_violations.update(scan_for_sleep(session.items, self.config.rootpath))
        if self.is_worker:
            workeroutput: dict[str, Any] = getattr(self.config, "workeroutput")  # noqa: B009
            workeroutput[WORKEROUTPUT_KEY] = self.data.to_json()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """xdist controller: merge what a worker collected (see the module docstring)."""
        workeroutput = getattr(node, "workeroutput", None)
        if isinstance(workeroutput, dict) and WORKEROUTPUT_KEY in workeroutput:
            self.data.merge_json(str(workeroutput[WORKEROUTPUT_KEY]))

    # -- outcomes -----------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep each test's worst outcome across setup, call and teardown."""
        if self.is_worker:
            return
        outcome: Outcome
        if report.failed:
            outcome = "failed"
        elif report.skipped:
            outcome = "skipped"
        elif report.passed and report.when == "call":
            outcome = "passed"
        else:
            return
        previous = self.outcomes.get(report.nodeid)
        if previous is None or _OUTCOME_RANK[outcome] > _OUTCOME_RANK[previous]:
            self.outcomes[report.nodeid] = outcome

    # -- end of session -----------------------------------------------------------------------

    def build_report(self) -> TraceabilityReport:
        """The report for what has been collected and run so far."""
        from floe_testing.traceability.report import build_report

        root = self.config.rootpath
        spec_files = list(self.spec.files) if self.spec else []
        tests_ran = not self.config.option.collectonly
        return build_report(
            claims=self.data.claims,
            spec_ids=self.spec.requirement_ids if self.spec else None,
            spec_files=spec_files,
            spec_files_display=[relative(f.resolve(), root) for f in spec_files],
            outcomes=self.outcomes if tests_ran else None,
            id_pattern=self.settings.id_pattern,
            spec_id_override=self.settings.spec_id,
            threshold=self.settings.threshold,
            unmarked_tests=self.data.unmarked,
            sleep_violations=self.data.sleep_violations,
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Build and write the report once (never on a worker) and apply the gates."""
        if self.is_worker:
            return
        if not self.settings.any_requested and not self.data.claims:
            return
        report = self.build_report()
        self.report = report
        failures: list[str] = []
        if self.settings.report_path is not None:
            try:
                report.write(self.settings.report_path)
            except OSError as exc:  # checked at start; the disk may still say no
                self.write_error = (f"the traceability report could not be written to "
                                    f"{self.settings.report_path}: {exc.strerror or exc}")
                failures.append(self.write_error)
        if report.threshold_met is False:
            failures.append(
                f"requirement coverage {report.coverage_percentage:.2f}% is below the "
                f"threshold {report.threshold:g}%"
            )
        if report.unmarked_tests:
            failures.append(f"{len(report.unmarked_tests)} test(s) lack @pytest.mark.requirement")
        if report.sleep_violations:
            failures.append(f"{len(report.sleep_violations)} forbidden time.sleep use(s)")
        self.gate_failures = failures
        clean = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
        if failures and session.exitstatus in clean:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker or self.report is None:
            return
        from floe_testing.traceability.summary import write_summary

        write_summary(terminalreporter, self.report, self.settings, self.spec, self.data.claims,
                      verbose=self.config.get_verbosity() > 0, write_error=self.write_error)
