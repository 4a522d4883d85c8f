"""Command-line and ini options of the traceability feature, and their validated form.

Command-line options win over ini options; ini options exist so a project can set its spec,
threshold and strictness once (``[tool.pytest.ini_options]``) instead of in every CI job.

=====================================  =====================================================
Command line                           ini (same meaning)
=====================================  =====================================================
``--traceability-report PATH``         (none; where to write is a per-run decision)
``--traceability-spec PATH``           ``traceability_spec`` (paths, relative to the ini
(repeatable; file or directory)        file's directory); the command line replaces it
``--traceability-threshold N``         ``traceability_threshold``
``--require-requirement-markers``      ``require_requirement_markers`` (bool)
``--require-requirement-markers-for``  ``require_requirement_markers_for`` (lines)
``--forbid-sleep``                     ``forbid_sleep`` (bool)
(none)                                 ``requirement_id_pattern`` (regex)
(none)                                 ``traceability_spec_id`` (overrides the derived one)
=====================================  =====================================================
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import pytest

from floe_testing.option_values import Setting, every_given, first_given
from floe_testing.traceability.ids import DEFAULT_ID_PATTERN

GROUP = "floe-testing traceability"


def add_options(parser: pytest.Parser) -> None:
    """Register the traceability command-line and ini options."""
    group = parser.getgroup("floe-traceability", GROUP)
    group.addoption(
        "--traceability-report",
        metavar="PATH",
        default=None,
        help="write the requirement traceability report (JSON) to PATH",
    )
    group.addoption(
        "--traceability-spec",
        metavar="PATH",
        action="append",
        default=None,
        help="spec Markdown file, or directory searched for *.md, defining the requirement IDs "
        "to measure coverage against (repeatable; replaces ini traceability_spec)",
    )
    group.addoption(
        "--traceability-threshold",
        metavar="N",
        default=None,
        help="fail the run (exit 1) when requirement coverage is below N percent",
    )
    group.addoption(
        "--require-requirement-markers",
        action="store_true",
        default=None,
        help="fail the run (exit 1) when a collected test has no @pytest.mark.requirement",
    )
    group.addoption(
        "--require-requirement-markers-for",
        metavar="EXPR_OR_PATH",
        action="append",
        default=None,
        help="like --require-requirement-markers, but only for tests under a path (a value "
        "containing '/' or ending in .py, or an existing path) or matching a marker "
        "expression as for -m, e.g. 'integration'; repeatable",
    )
    group.addoption(
        "--forbid-sleep",
        action="store_true",
        default=None,
        help="fail the run (exit 1) when a collected test module or its conftest.py uses "
        "time.sleep",
    )
    parser.addini(
        "requirement_id_pattern",
        "regular expression a requirement ID must wholly match",
        default=DEFAULT_ID_PATTERN,
    )
    parser.addini(
        "traceability_spec",
        "spec Markdown files or directories defining the requirement IDs (relative to the ini "
        "file's directory)",
        type="paths",
        default=[],
    )
    parser.addini(
        "traceability_spec_id",
        "spec_id written into the traceability report (default: derived from the IDs' prefix)",
        default="",
    )
    parser.addini(
        "traceability_threshold",
        "minimum requirement coverage in percent (like --traceability-threshold)",
        default="",
    )
    parser.addini(
        "require_requirement_markers",
        "every collected test must carry @pytest.mark.requirement",
        type="bool",
        default=False,
    )
    parser.addini(
        "require_requirement_markers_for",
        "limit the requirement-marker obligation to these paths or marker expressions",
        type="linelist",
        default=[],
    )
    parser.addini(
        "forbid_sleep",
        "fail the run when collected test code uses time.sleep",
        type="bool",
        default=False,
    )


class TraceabilitySettings(NamedTuple):  # made on every run: cheaper than a dataclass
    """The traceability options of one run, validated and with paths resolved."""

    id_pattern: str = DEFAULT_ID_PATTERN
    report_path: Path | None = None
    spec_paths: tuple[Path, ...] = ()
    spec_id: str | None = None
    threshold: float | None = None
    require_markers: bool = False
    require_markers_scopes: tuple[str, ...] = ()
    forbid_sleep: bool = False

    @property
    def any_requested(self) -> bool:
        """Whether the user asked for anything traceability-related beyond the marker."""
        return (
            self.report_path is not None
            or bool(self.spec_paths)
            or self.threshold is not None
            or self.require_markers
            or self.forbid_sleep
        )


def parse_threshold(raw: str, source: str) -> float:
    """A percentage in [0, 100] (``80`` or ``80%``); anything else is a usage error naming where
    it came from, because a typo silently disabling the gate would defeat its purpose.
    """
    try:
        value = float(raw.strip().removesuffix("%"))
    except ValueError:
        raise pytest.UsageError(
            f"{source} must be a number of percent between 0 and 100, got {raw!r}"
        ) from None
    if math.isnan(value) or not 0.0 <= value <= 100.0:
        raise pytest.UsageError(f"{source} must be between 0 and 100, got {raw!r}")
    return value


def check_writable(path: Path, source: str) -> None:
    """Fail now, not after every test ran, when the report could not be written there."""
    from floe_testing.writable import cannot_create_under

    if path.is_dir():
        raise pytest.UsageError(f"{source} {path} is a directory; name a file, e.g. "
                                f"{path / 'traceability.json'}")
    problem = cannot_create_under(path)
    if problem is not None:
        raise pytest.UsageError(f"{source} {path} cannot be written: {problem}; choose "
                                "another path")


REPORT = Setting("--traceability-report")
SPEC = Setting("--traceability-spec", "traceability_spec")
THRESHOLD = Setting("--traceability-threshold", "traceability_threshold")
REQUIRE_MARKERS = Setting("--require-requirement-markers", "require_requirement_markers")
REQUIRE_MARKERS_FOR = Setting("--require-requirement-markers-for",
                              "require_requirement_markers_for")
FORBID_SLEEP = Setting("--forbid-sleep", "forbid_sleep")


def read_settings(config: pytest.Config) -> TraceabilitySettings:
    """Combine command line and ini into :class:`TraceabilitySettings` (or raise
    ``pytest.UsageError``), with the one precedence (:mod:`floe_testing.option_values`)."""
    base = config.invocation_params.dir

    report = first_given(config, REPORT)
    report_path = base / str(report.value) if report is not None else None
    if report_path is not None:
        check_writable(report_path, REPORT.option)
    # the command line's paths are relative to where pytest runs; the ini's are resolved
    spec_paths = tuple(base / str(g.value) if g.source == SPEC.option else Path(g.value)
                       for g in every_given(config, SPEC, replace=True))
    threshold_given = first_given(config, THRESHOLD)
    threshold = (parse_threshold(str(threshold_given.value),
                                 threshold_given.source.replace("ini ", "ini option "))
                 if threshold_given is not None else None)
    scopes = tuple(str(g.value) for g in every_given(config, REQUIRE_MARKERS_FOR, replace=True))
    require = first_given(config, REQUIRE_MARKERS) is not None or bool(scopes)
    forbid = first_given(config, FORBID_SLEEP) is not None
    spec_id = str(config.getini("traceability_spec_id")).strip() or None
    pattern = str(config.getini("requirement_id_pattern")).strip() or DEFAULT_ID_PATTERN

    return TraceabilitySettings(
        id_pattern=pattern,
        report_path=report_path,
        spec_paths=spec_paths,
        spec_id=spec_id,
        threshold=threshold,
        require_markers=require,
        require_markers_scopes=scopes,
        forbid_sleep=forbid,
    )
