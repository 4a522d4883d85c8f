"""001-FR-041: the JSON report gives coverage against spec files, uncovered IDs and the map."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from floe_testing.traceability.ids import DEFAULT_ID_PATTERN
from floe_testing.traceability.report import (
    RequirementCoverage,
    TraceabilityReport,
    build_report,
    derive_spec_id,
)
from floe_testing.traceability.spec import SpecError, extract_ids, load_spec

pytestmark = pytest.mark.requirement("001-FR-041")

ReadJson = Callable[[Path], dict[str, Any]]
PATTERN = re.compile(DEFAULT_ID_PATTERN)

TESTS = """
import pytest

@pytest.mark.requirement("001-FR-001")
def test_one():
    pass

@pytest.mark.requirement("001-FR-001", "001-FR-002")
def test_two():
    pass

@pytest.mark.requirement("001-FR-009")
def test_claims_unknown():
    pass

@pytest.mark.requirement("001-FR-004a")
def test_fails():
    assert False

def test_unmarked():
    pass
"""


# -- spec parsing ---------------------------------------------------------------------------


def test_extract_ids_takes_whole_words_matching_the_pattern() -> None:
    text = (
        "- **001-FR-001**: x. See 001-FR-002.\n"
        "| 001-FR-003 | table |\n"
        "- 001-SC-001 criteria, 001-FR-0401 too long, 001-FR-04 too short\n"
        "both 001-FR-005/001-FR-006 and `001-FR-007a`\n"
    )
    assert extract_ids(text, PATTERN) == {
        "001-FR-001",
        "001-FR-002",
        "001-FR-003",
        "001-FR-005",
        "001-FR-006",
        "001-FR-007a",
    }


def test_project_requirements_file_yields_its_functional_requirements() -> None:
    requirements = Path(__file__).resolve().parents[2] / "docs" / "requirements.md"
    assert requirements.is_file(), f"the project's requirements file is missing: {requirements}"
    spec = load_spec([requirements], PATTERN)
    assert {"001-FR-001", "001-FR-040", "001-FR-043", "001-FR-053"} <= spec.requirement_ids
    assert not any("-SC-" in i for i in spec.requirement_ids)


def test_spec_directory_missing_path_and_empty_spec(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("- **001-FR-001**: a\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("- **002-FR-001**: b\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("003-FR-001\n", encoding="utf-8")
    spec = load_spec([tmp_path], PATTERN)
    assert spec.requirement_ids == {"001-FR-001", "002-FR-001"}
    with pytest.raises(SpecError, match="does not exist"):
        load_spec([tmp_path / "nope.md"], PATTERN)
    (tmp_path / "empty.md").write_text("no ids here\n", encoding="utf-8")
    with pytest.raises(SpecError, match="no requirement ID"):
        load_spec([tmp_path / "empty.md"], PATTERN)


# -- arithmetic -----------------------------------------------------------------------------


def test_build_report_arithmetic_against_a_spec() -> None:
    report = build_report(
        claims={"t::a": ["001-FR-001"], "t::b": ["001-FR-001", "001-FR-009"]},
        spec_ids={"001-FR-001", "001-FR-002", "001-FR-003"},
        outcomes={"t::a": "passed", "t::b": "failed"},
    )
    assert report.total_requirements == 3
    assert report.covered_requirements == 1
    assert report.coverage_percentage == pytest.approx(33.33)
    assert report.uncovered == ["001-FR-002", "001-FR-003"]
    assert report.unknown == ["001-FR-009"]
    assert report.coverage_map["001-FR-001"] == ["t::a", "t::b"]
    assert report.coverage_map["001-FR-002"] == []
    assert report.outcomes["001-FR-001"].passed == 1
    assert report.outcomes["001-FR-001"].failed == 1
    assert report.failing == ["001-FR-001", "001-FR-009"]
    assert report.green == []


def test_build_report_without_spec_and_with_nothing() -> None:
    report = build_report(claims={"t::a": ["001-FR-002"]}, spec_ids=None)
    assert (report.total_requirements, report.covered_requirements) == (1, 1)
    assert report.coverage_percentage == 100.0
    assert report.tests_ran is False
    assert report.outcomes == {}
    empty = build_report(claims={}, spec_ids=None)
    assert empty.total_requirements == 0
    assert empty.coverage_percentage == 0.0  # nothing to cover is not 100 %
    assert empty.spec_id == "unspecified"


def test_skipped_only_and_not_run_are_neither_green_nor_failing() -> None:
    report = build_report(
        claims={"t::s": ["001-FR-001"], "t::n": ["001-FR-002"], "t::p": ["001-FR-003"]},
        spec_ids=None,
        outcomes={"t::s": "skipped", "t::p": "passed"},
    )
    assert report.green == ["001-FR-003"]
    assert report.failing == []
    assert report.outcomes["001-FR-001"].skipped == 1
    assert report.outcomes["001-FR-002"].not_run == 1
    assert report.green_percentage == pytest.approx(33.33)


def test_spec_id_derivation() -> None:
    assert derive_spec_id(["001-FR-001", "001-FR-002"], []) == "001"
    assert derive_spec_id(["002-FR-001", "001-FR-002"], []) == "001+002"
    assert derive_spec_id([], [Path("docs/payments.md")]) == "payments"
    assert derive_spec_id(["001-FR-001"], [], override="billing") == "billing"


def test_requirement_coverage_model_keeps_the_data_model_pattern() -> None:
    assert RequirementCoverage(requirement_id="001-FR-040").test_ids == []
    with pytest.raises(ValueError, match="pattern"):
        RequirementCoverage(requirement_id="001-SC-001")


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    report = build_report(claims={"t::a": ["001-FR-001"]}, spec_ids={"001-FR-001"})
    target = tmp_path / "nested" / "r.json"
    report.write(target)
    assert TraceabilityReport.read(target) == report


# -- end to end -----------------------------------------------------------------------------


def test_report_against_spec_with_outcomes(
    pytester: pytest.Pytester, spec_file: Path, read_json: ReadJson
) -> None:
    pytester.makepyfile(test_things=TESTS)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--traceability-spec",
        str(spec_file.relative_to(pytester.path)),
        "--traceability-report",
        "out/trace.json",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # test_fails; no gate was asked for
    report = read_json(pytester.path / "out" / "trace.json")
    assert report["spec_id"] == "001"
    assert report["spec_files"] == ["docs/requirements.md"]
    assert report["total_requirements"] == 4  # 001-SC-001 is not an FR and does not count
    assert report["covered_requirements"] == 3
    assert report["coverage_percentage"] == 75.0
    assert report["uncovered"] == ["001-FR-003"]
    assert report["unknown"] == ["001-FR-009"]
    assert report["coverage_map"] == {
        "001-FR-001": ["test_things.py::test_one", "test_things.py::test_two"],
        "001-FR-002": ["test_things.py::test_two"],
        "001-FR-003": [],
        "001-FR-004a": ["test_things.py::test_fails"],
        "001-FR-009": ["test_things.py::test_claims_unknown"],
    }
    assert report["tests_ran"] is True
    assert report["outcomes"]["001-FR-001"] == {
        "passed": 2,
        "failed": 0,
        "skipped": 0,
        "not_run": 0,
    }
    assert report["outcomes"]["001-FR-004a"]["failed"] == 1
    assert report["failing"] == ["001-FR-004a"]
    assert "001-FR-004a" not in report["green"]
    assert report["green"] == ["001-FR-001", "001-FR-002", "001-FR-009"]
    result.stdout.fnmatch_lines(
        [
            "*requirement traceability*",
            "spec 001 (docs/requirements.md): 3/4 requirements covered (75.00%)",
            "failing (1): 001-FR-004a",
            "uncovered (1): 001-FR-003",
            "unknown (claimed, not in the spec) (1): 001-FR-009",
        ]
    )


def test_skip_xfail_and_setup_error_outcomes(
    pytester: pytest.Pytester, read_json: ReadJson
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("setup")

        @pytest.mark.requirement("001-FR-001")
        @pytest.mark.skip(reason="later")
        def test_skipped():
            pass

        @pytest.mark.requirement("001-FR-002")
        @pytest.mark.xfail(reason="known")
        def test_xfail():
            assert False

        @pytest.mark.requirement("001-FR-003")
        def test_setup_error(broken):
            pass
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "--traceability-report", "r.json")
    report = read_json(pytester.path / "r.json")
    assert report["outcomes"]["001-FR-001"]["skipped"] == 1
    assert report["outcomes"]["001-FR-002"]["skipped"] == 1
    assert report["outcomes"]["001-FR-003"]["failed"] == 1
    assert report["green"] == []
    assert report["failing"] == ["001-FR-003"]
    assert report["coverage_percentage"] == 100.0  # without a spec: claimed IDs are the total


def test_collect_only_report(
    pytester: pytest.Pytester, spec_file: Path, read_json: ReadJson
) -> None:
    pytester.makepyfile(test_things=TESTS)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--collect-only",
        "-q",
        "--traceability-spec",
        str(spec_file),
        "--traceability-report",
        "r.json",
    )
    assert result.ret == pytest.ExitCode.OK
    report = read_json(pytester.path / "r.json")
    assert report["tests_ran"] is False
    assert report["outcomes"] == {}
    assert report["covered_requirements"] == 3
    assert report["uncovered"] == ["001-FR-003"]


def test_deselected_tests_do_not_cover(pytester: pytest.Pytester, read_json: ReadJson) -> None:
    pytester.makepyfile(test_things=TESTS)
    pytester.runpytest(
        "-p", "no:cacheprovider", "-k", "test_one", "--traceability-report", "r.json"
    )
    assert read_json(pytester.path / "r.json")["coverage_map"] == {
        "001-FR-001": ["test_things.py::test_one"]
    }


def test_spec_from_ini_and_spec_id_override(
    pytester: pytest.Pytester, spec_file: Path, read_json: ReadJson
) -> None:
    pytester.makeini(
        """
        [pytest]
        traceability_spec = docs
        traceability_spec_id = example
        """
    )
    pytester.makepyfile(test_things=TESTS)
    pytester.runpytest("-p", "no:cacheprovider", "--traceability-report", "r.json")
    report = read_json(pytester.path / "r.json")
    assert report["spec_id"] == "example"
    assert report["total_requirements"] == 4
    assert report["spec_files"] == ["docs/requirements.md"]


def test_missing_spec_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--traceability-spec", "nope.md")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*traceability spec*nope.md does not exist*"])


def test_xdist_report_equals_serial_report(
    pytester: pytest.Pytester, spec_file: Path, read_json: ReadJson
) -> None:
    pytester.makepyfile(test_things=TESTS)
    pytester.makepyfile(
        test_more="""
        import pytest

        @pytest.mark.requirement("001-FR-002")
        @pytest.mark.parametrize("n", range(6))
        def test_many(n):
            pass

        class TestGroup:
            pytestmark = pytest.mark.requirement("001-FR-003")

            def test_a(self):
                pass

            def test_b(self):
                pass
        """
    )
    common = ["-p", "no:cacheprovider", "--traceability-spec", str(spec_file)]
    serial = pytester.runpytest_subprocess(*common, "--traceability-report", "serial.json")
    parallel = pytester.runpytest_subprocess(
        *common, "-n", "2", "--traceability-report", "xdist.json"
    )
    assert serial.ret == parallel.ret == pytest.ExitCode.TESTS_FAILED
    assert "gw0" in parallel.stdout.str() or "2 workers" in parallel.stdout.str()
    a = read_json(pytester.path / "serial.json")
    b = read_json(pytester.path / "xdist.json")
    assert b["coverage_map"]["001-FR-002"][-1] == "test_things.py::test_two"
    assert len(b["coverage_map"]["001-FR-002"]) == 7
    assert a == b  # everything: totals, map, outcomes, green/failing
    parallel.stdout.fnmatch_lines(["spec 001 (*): 4/4 requirements covered (100.00%)"])


def test_summary_is_one_line_without_options_and_absent_without_markers(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_things=TESTS)
    marked = pytester.runpytest("-p", "no:cacheprovider")
    marked.stdout.fnmatch_lines(["4 requirement(s) claimed by 4 test(s);*"])
    assert "uncovered" not in marked.stdout.str()
    pytester.makepyfile(test_things="def test_plain():\n    pass\n")
    plain = pytester.runpytest("-p", "no:cacheprovider")
    assert "requirement traceability" not in plain.stdout.str()


@pytest.mark.requirement("001-FR-026")
def test_secret_ids_are_masked_alike_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker masks a parametrize id made of a secret the same way, so the controller's
    terminal, JUnit and traceability report agree as in a serial run (the unit tier's
    ``test_secret_masking.py`` runs it serially); and no channel leaks the secret."""
    from support.secret_channels import run_channels

    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "POSTGRES_HOST"):
        monkeypatch.delenv(name, raising=False)
    run_channels(pytester, monkeypatch, "-n", "2")
