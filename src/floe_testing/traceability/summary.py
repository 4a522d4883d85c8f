"""The traceability report on the terminal: requirements covered out of the spec's, what is
missing or failing, and every failed gate with what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from floe_testing.traceability.options import TraceabilitySettings
    from floe_testing.traceability.report import TraceabilityReport
    from floe_testing.traceability.spec import Spec

_SHORT_LIST = 10


def write_summary(tr: pytest.TerminalReporter, report: TraceabilityReport,
                  settings: TraceabilitySettings, spec: Spec | None,
                  claims: dict[str, list[str]], *, verbose: bool,
                  write_error: str | None = None) -> None:
    """Requirements covered / total and what is missing; one line if nothing was asked.
    ``write_error``: why the report could not be written (said instead of "written to")."""
    if not settings.any_requested:
        tr.write_sep("-", "requirement traceability")
        tr.write_line(
            f"{len(report.coverage_map)} requirement(s) claimed by "
            f"{len(claims)} test(s); --traceability-spec measures coverage, "
            "--traceability-report saves it"
        )
        return
    tr.write_sep("-", "requirement traceability")
    coverage_asked = (
        spec is not None
        or settings.report_path is not None
        or settings.threshold is not None
    )
    if spec is not None:
        tr.write_line(
            f"spec {report.spec_id} ({', '.join(report.spec_files)}): "
            f"{report.covered_requirements}/{report.total_requirements} requirements "
            f"covered ({report.coverage_percentage:.2f}%)"
        )
    elif coverage_asked or report.coverage_map:
        tr.write_line(
            f"spec {report.spec_id}: {report.covered_requirements} requirement(s) claimed "
            "by tests (no --traceability-spec: coverage is measured against claimed IDs)"
        )
    if report.tests_ran and report.covered_requirements:
        tr.write_line(f"green: {len(report.green)} ({report.green_percentage:.2f}%)")
        if report.failing:
            tr.write_line(
                f"failing ({len(report.failing)}): {', '.join(report.failing)}", red=True
            )
    full = verbose or report.threshold_met is False
    _write_list(tr, "uncovered", report.uncovered, full, red=report.threshold_met is False)
    _write_list(tr, "unknown (claimed, not in the spec)", report.unknown, full, red=False)
    if report.threshold is not None:
        if report.threshold_met:
            tr.write_line(f"threshold {report.threshold:g}% met", green=True)
        else:
            tr.write_line(
                f"FAILED: requirement coverage {report.coverage_percentage:.2f}% is below "
                f"the threshold {report.threshold:g}%",
                red=True,
                bold=True,
            )
    if report.unmarked_tests:
        tr.write_line(
            f"FAILED: {len(report.unmarked_tests)} test(s) lack @pytest.mark.requirement "
            "(--require-requirement-markers):",
            red=True,
            bold=True,
        )
        for node_id in report.unmarked_tests:
            tr.write_line(f"  {node_id}")
    if report.sleep_violations:
        tr.write_line(
            "FAILED: time.sleep is forbidden (--forbid-sleep); poll for the condition "
            "instead (floe_testing wait_for_condition):",
            red=True,
            bold=True,
        )
        for finding in report.sleep_violations:
            tr.write_line(f"  {finding}")
    if write_error is not None:
        tr.write_line(f"FAILED: {write_error}", red=True, bold=True)
    elif settings.report_path is not None:
        tr.write_line(f"report written to {settings.report_path}")


def _write_list(
    tr: pytest.TerminalReporter, title: str, values: list[str], full: bool, *, red: bool
) -> None:
    """One line per list; long lists are cut unless they explain a failure or -v is given."""
    if not values:
        return
    shown = values if full else values[:_SHORT_LIST]
    more = "" if len(shown) == len(values) else f", ... (+{len(values) - len(shown)}, -v)"
    tr.write_line(f"{title} ({len(values)}): {', '.join(shown)}{more}", red=red)
