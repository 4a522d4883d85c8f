"""001-FR-042: a coverage threshold and a "markers required" mode fail the run when unmet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.requirement("001-FR-042")

ReadJson = Callable[[Path], dict[str, Any]]

# Covers 001-FR-001 and 001-FR-002 of the four spec requirements: 50 %.
HALF = """
import pytest

@pytest.mark.requirement("001-FR-001")
def test_one():
    pass

@pytest.mark.requirement("001-FR-002")
def test_two():
    pass
"""

MIXED = """
import pytest

@pytest.mark.requirement("001-FR-001")
def test_marked():
    pass

@pytest.mark.integration
def test_integration_unmarked():
    pass

def test_unit_unmarked():
    pass
"""


def _spec_args(spec_file: Path) -> list[str]:
    return ["-p", "no:cacheprovider", "--traceability-spec", str(spec_file)]


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        ("50", pytest.ExitCode.OK),
        ("50%", pytest.ExitCode.OK),
        ("50.01", pytest.ExitCode.TESTS_FAILED),
    ],
)
def test_threshold_boundary(
    pytester: pytest.Pytester, spec_file: Path, threshold: str, expected: pytest.ExitCode
) -> None:
    pytester.makepyfile(HALF)
    result = pytester.runpytest(*_spec_args(spec_file), "--traceability-threshold", threshold)
    result.assert_outcomes(passed=2)
    assert result.ret == expected


def test_threshold_failure_lists_every_uncovered_id(
    pytester: pytest.Pytester, spec_file: Path, read_json: ReadJson
) -> None:
    pytester.makepyfile(HALF)
    result = pytester.runpytest(
        *_spec_args(spec_file), "--traceability-threshold", "90", "--traceability-report", "r.json"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "uncovered (2): 001-FR-003, 001-FR-004a",
            "FAILED: requirement coverage 50.00% is below the threshold 90%",
        ]
    )
    report = read_json(pytester.path / "r.json")
    assert report["threshold"] == 90.0
    assert report["threshold_met"] is False


def test_threshold_applies_to_collect_only(pytester: pytest.Pytester, spec_file: Path) -> None:
    pytester.makepyfile(HALF)
    result = pytester.runpytest(
        *_spec_args(spec_file), "--collect-only", "--traceability-threshold", "75"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_threshold_from_ini(pytester: pytest.Pytester, spec_file: Path) -> None:
    pytester.makeini("[pytest]\ntraceability_threshold = 80\n")
    pytester.makepyfile(HALF)
    assert pytester.runpytest(*_spec_args(spec_file)).ret == pytest.ExitCode.TESTS_FAILED
    # The command line wins over the ini file.
    passing = pytester.runpytest(*_spec_args(spec_file), "--traceability-threshold", "10")
    assert passing.ret == pytest.ExitCode.OK


def test_threshold_with_no_tests_collected_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("")
    result = pytester.runpytest("-p", "no:cacheprovider", "--traceability-threshold", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not 5: the gate's verdict wins


def test_failing_tests_keep_their_exit_status(pytester: pytest.Pytester, spec_file: Path) -> None:
    pytester.makepyfile("def test_bad():\n    assert False\n")
    result = pytester.runpytest(*_spec_args(spec_file), "--traceability-threshold", "100")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAILED: requirement coverage 0.00% is below the threshold 100%"])


@pytest.mark.parametrize("bad", ["abc", "101", "-1", "nan"])
def test_invalid_threshold_is_a_usage_error(pytester: pytest.Pytester, bad: str) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--traceability-threshold={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--traceability-threshold must be*"])


def test_required_markers_name_each_unmarked_test(
    pytester: pytest.Pytester, read_json: ReadJson
) -> None:
    pytester.makepyfile(test_mixed=MIXED)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--require-requirement-markers", "--traceability-report", "r.json"
    )
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "FAILED: 2 test(s) lack @pytest.mark.requirement*",
            "  test_mixed.py::test_integration_unmarked",
            "  test_mixed.py::test_unit_unmarked",
        ]
    )
    assert read_json(pytester.path / "r.json")["unmarked_tests"] == [
        "test_mixed.py::test_integration_unmarked",
        "test_mixed.py::test_unit_unmarked",
    ]


def test_required_markers_pass_when_all_marked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(HALF)
    result = pytester.runpytest("-p", "no:cacheprovider", "--require-requirement-markers")
    assert result.ret == pytest.ExitCode.OK
    assert "lack @pytest.mark.requirement" not in result.stdout.str()


def test_required_markers_limited_by_marker_expression(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    integration: needs the stack\n")
    pytester.makepyfile(test_mixed=MIXED)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--require-requirement-markers-for", "integration"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "  test_mixed.py::test_integration_unmarked" in out
    assert "test_unit_unmarked" not in out
    negated = pytester.runpytest(
        "-p", "no:cacheprovider", "--require-requirement-markers-for", "not integration"
    )
    assert "  test_mixed.py::test_unit_unmarked" in negated.stdout.str()
    assert "test_integration_unmarked" not in negated.stdout.str()


def test_required_markers_limited_by_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**{"integration/test_i": "def test_i():\n    pass\n"})
    pytester.makepyfile(**{"unit/test_u": "def test_u():\n    pass\n"})
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--require-requirement-markers-for", "integration/"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "  integration/test_i.py::test_i" in result.stdout.str()
    assert "unit/test_u.py::test_u" not in result.stdout.str()
    only_unit_scope = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--require-requirement-markers-for",
        "unit/test_u.py",
        "integration",
    )
    assert only_unit_scope.ret == pytest.ExitCode.OK  # the one selected test is out of scope


def test_required_markers_from_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nrequire_requirement_markers_for =\n    integration/\n")
    pytester.makepyfile(**{"integration/test_i": "def test_i():\n    pass\n"})
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "  integration/test_i.py::test_i" in result.stdout.str()


def test_malformed_scope_expression_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--require-requirement-markers-for", "integration and ("
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*neither a path nor a valid marker expression*"])


def test_required_markers_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mixed=MIXED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--require-requirement-markers"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "FAILED: 2 test(s) lack @pytest.mark.requirement*",
            "  test_mixed.py::test_integration_unmarked",
            "  test_mixed.py::test_unit_unmarked",
        ]
    )
