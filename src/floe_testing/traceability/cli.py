"""``python -m floe_testing.traceability``: run pytest with the traceability gates, or check
a report.

Two subcommands, because CI pipelines split in two ways: one job runs the tests and wants the
gates applied in the same step (``run``); another only needs to judge a report an earlier job
produced, without installing or running the test suite (``check``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PROG = "python -m floe_testing.traceability"

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_BAD_REPORT = 3

_DESCRIPTION = """\
Requirement traceability for floe-testing.

  run [options] [--] [pytest args...]
         Run pytest (in a child process, same interpreter) with the traceability options.
         'run' is the default when the first argument is not a subcommand. Options other
         than these, and everything after '--', are passed to pytest unchanged:
           --spec PATH                  spec Markdown file or directory, repeatable
                                        (= pytest --traceability-spec)
           --report PATH                write the report JSON (= --traceability-report)
           --threshold N                minimum coverage in percent (= --traceability-threshold)
           --require-markers            every test needs @pytest.mark.requirement
                                        (= --require-requirement-markers)
           --require-markers-for EXPR_OR_PATH
                                        only tests under a path / matching a marker
                                        expression (= --require-requirement-markers-for)
           --forbid-sleep               fail on time.sleep in test code (= --forbid-sleep)
  check REPORT [--threshold N] [--green-threshold N] [--require-green] [--fail-on-unknown]
         Judge a report JSON written earlier (by --traceability-report or run --report)
         without running tests; --threshold defaults to the one recorded in the report.

examples:
  %(prog)s --spec docs/requirements.md --report build/trace.json --threshold 90 -- -m unit
  %(prog)s --spec docs --report trace.json --collect-only
  %(prog)s check build/trace.json --threshold 90 --require-green
"""

_EXIT_CODES = """\
exit codes:
  run    pytest's own: 0 all passed and every gate met; 1 tests failed OR a gate failed
         (coverage below --threshold, a test without a requirement marker under
         --require-markers, a time.sleep under --forbid-sleep); 2 interrupted, e.g. a
         collection error such as a malformed requirement ID; 3 internal error; 4 usage
         error, e.g. a missing spec file; 5 no tests collected.
  check  0 every gate met; 1 a gate failed (coverage below --threshold or --green-threshold,
         a covered requirement that is not green with --require-green, unknown IDs with
         --fail-on-unknown, or unmarked tests / time.sleep uses recorded in the report);
         2 usage error; 3 the report is missing, unreadable or not a traceability report.
"""


def _run_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="run pytest with the traceability options (default subcommand)",
        description="Run pytest in this process with the traceability options. Unrecognised "
        "options and everything after '--' go to pytest.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    run.add_argument(
        "--spec",
        action="append",
        default=[],
        metavar="PATH",
        help="spec Markdown file or directory (repeatable) -> --traceability-spec",
    )
    run.add_argument(
        "--report", metavar="PATH", help="write the report JSON here -> --traceability-report"
    )
    run.add_argument(
        "--threshold",
        metavar="N",
        help="minimum coverage in percent -> --traceability-threshold",
    )
    run.add_argument(
        "--require-markers",
        action="store_true",
        help="every test needs a requirement marker -> --require-requirement-markers",
    )
    run.add_argument(
        "--require-markers-for",
        action="append",
        default=[],
        metavar="EXPR_OR_PATH",
        help="only tests under a path / matching a marker expression need one "
        "-> --require-requirement-markers-for (repeatable)",
    )
    run.add_argument(
        "--forbid-sleep", action="store_true", help="fail on time.sleep -> --forbid-sleep"
    )


def _check_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check",
        help="judge an existing report JSON without running tests",
        description="Load a traceability report and apply gates to it. Unmarked tests and "
        "time.sleep uses recorded in the report always fail the check (they are only "
        "recorded when the run asked for those gates).",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    check.add_argument("report", metavar="REPORT", type=Path, help="report JSON file")
    check.add_argument(
        "--threshold",
        type=float,
        metavar="N",
        help="minimum coverage_percentage (default: the threshold recorded in the report)",
    )
    check.add_argument(
        "--green-threshold",
        type=float,
        metavar="N",
        help="minimum green_percentage: requirements whose tests ran and passed",
    )
    check.add_argument(
        "--require-green",
        action="store_true",
        help="fail if any covered requirement is not green (a test failed, or all skipped, "
        "or the report comes from --collect-only)",
    )
    check.add_argument(
        "--fail-on-unknown",
        action="store_true",
        help="fail if tests claim IDs the spec does not define",
    )


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; its ``--help`` describes both subcommands and the exit codes."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="{run,check}")
    _run_parser(subparsers)
    _check_parser(subparsers)
    return parser


def pytest_args_for_run(ns: argparse.Namespace, passthrough: Sequence[str]) -> list[str]:
    """Translate ``run`` options into pytest options, followed by the pass-through args."""
    args: list[str] = []
    for spec in ns.spec:
        args += ["--traceability-spec", spec]
    if ns.report:
        args += ["--traceability-report", ns.report]
    if ns.threshold is not None:
        args += ["--traceability-threshold", ns.threshold]
    if ns.require_markers:
        args.append("--require-requirement-markers")
    for scope in ns.require_markers_for:
        args += ["--require-requirement-markers-for", scope]
    if ns.forbid_sleep:
        args.append("--forbid-sleep")
    return args + list(passthrough)


def check_report(ns: argparse.Namespace) -> int:
    """Apply the ``check`` gates to a report file; print why it passes or fails."""
    from pydantic import ValidationError

    from floe_testing.traceability.report import TraceabilityReport

    path: Path = ns.report
    try:
        report = TraceabilityReport.read(path)
    except FileNotFoundError:
        print(f"error: report {path} does not exist", file=sys.stderr)
        return EXIT_BAD_REPORT
    except (OSError, ValueError, ValidationError) as exc:
        # json.JSONDecodeError is a ValueError; pydantic says which field is wrong.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {path} is not a traceability report: {first}", file=sys.stderr)
        return EXIT_BAD_REPORT

    print(
        f"spec {report.spec_id}: {report.covered_requirements}/{report.total_requirements} "
        f"requirements covered ({report.coverage_percentage:.2f}%), "
        f"green {len(report.green)} ({report.green_percentage:.2f}%)"
    )
    failures: list[str] = []
    threshold = ns.threshold if ns.threshold is not None else report.threshold
    if threshold is not None and report.coverage_percentage < threshold:
        failures.append(
            f"coverage {report.coverage_percentage:.2f}% is below the threshold {threshold:g}%; "
            f"uncovered: {', '.join(report.uncovered) or '-'}"
        )
    if ns.green_threshold is not None and report.green_percentage < ns.green_threshold:
        not_green = [r for r in report.coverage_map if r not in report.green]
        failures.append(
            f"green coverage {report.green_percentage:.2f}% is below {ns.green_threshold:g}%; "
            f"not green: {', '.join(not_green) or '-'}"
        )
    if ns.require_green:
        if not report.tests_ran:
            failures.append("--require-green: the report has no test outcomes (--collect-only?)")
        else:
            covered = [r for r, tests in report.coverage_map.items() if tests]
            not_green = [r for r in covered if r not in report.green]
            if not_green:
                failures.append(f"not green (failed or only skipped): {', '.join(not_green)}")
    if ns.fail_on_unknown and report.unknown:
        failures.append(f"IDs not defined by the spec: {', '.join(report.unknown)}")
    if report.unmarked_tests:
        failures.append(
            "tests without @pytest.mark.requirement:\n  " + "\n  ".join(report.unmarked_tests)
        )
    if report.sleep_violations:
        failures.append("time.sleep uses:\n  " + "\n  ".join(report.sleep_violations))
    for failure in failures:
        print(f"FAILED: {failure}")
    if failures:
        return EXIT_GATE_FAILED
    print("OK")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m floe_testing.traceability``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("run", "check", "-h", "--help"):
        args = ["run", *args]
    head, passthrough = args, []
    if "--" in args:
        cut = args.index("--")
        head, passthrough = args[:cut], args[cut + 1 :]
    parser = build_parser()
    if head[0] == "check":
        return check_report(parser.parse_args(head))
    ns, unknown = parser.parse_known_args(head)
    if ns.command != "run":  # pragma: no cover - argparse exits for -h
        parser.print_help()
        return EXIT_USAGE
    # A child process rather than pytest.main(): this module has already imported
    # floe_testing, which pytest could then no longer assert-rewrite (it would warn).
    command = [sys.executable, "-m", "pytest", *pytest_args_for_run(ns, [*unknown, *passthrough])]
    return subprocess.run(command, check=False).returncode
