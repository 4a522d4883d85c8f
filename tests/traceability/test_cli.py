"""The ``python -m floe_testing.traceability`` CLI: ``run`` for test jobs, ``check`` for CI gates.

``run`` proves the report (001-FR-041) and the gates (001-FR-042) reachable from one command;
``check`` applies the gates to a saved report.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from floe_testing.traceability.cli import EXIT_BAD_REPORT, EXIT_GATE_FAILED, EXIT_OK, main
from floe_testing.traceability.report import build_report

ReadJson = Callable[[Path], dict[str, Any]]

MODULE = [sys.executable, "-m", "floe_testing.traceability"]


def _write_report(path: Path, **overrides: Any) -> Path:
    report = build_report(
        claims={"t.py::a": ["001-FR-001"], "t.py::b": ["001-FR-002"]},
        spec_ids={"001-FR-001", "001-FR-002", "001-FR-003", "001-FR-004"},
        outcomes={"t.py::a": "passed", "t.py::b": "failed"},
    )
    data = report.model_dump(mode="json")
    data.update(overrides)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.requirement("001-FR-041", "001-FR-042")
def test_help_describes_both_subcommands_and_exit_codes(pytester: pytest.Pytester) -> None:
    result = pytester.run(*MODULE, "--help")
    assert result.ret == 0
    out = result.stdout.str()
    for needle in ("run [options]", "check REPORT", "--spec PATH", "--threshold N", "exit codes:"):
        assert needle in out
    result.stdout.fnmatch_lines(["*3 the report is missing, unreadable or not a traceability*"])


@pytest.mark.requirement("001-FR-042")
def test_check_threshold_pass_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _write_report(tmp_path / "r.json")  # 2 of 4 covered: 50 %
    assert main(["check", str(report), "--threshold", "50"]) == EXIT_OK
    assert main(["check", str(report), "--threshold", "60"]) == EXIT_GATE_FAILED
    out = capsys.readouterr().out
    assert (
        "FAILED: coverage 50.00% is below the threshold 60%; uncovered: 001-FR-003, 001-FR-004"
        in out
    )


@pytest.mark.requirement("001-FR-042")
def test_check_uses_recorded_threshold_and_other_gates(tmp_path: Path) -> None:
    assert main(["check", str(_write_report(tmp_path / "a.json", threshold=75.0))]) == 1
    plain = _write_report(tmp_path / "b.json")
    assert main(["check", str(plain)]) == EXIT_OK  # no gate asked, none recorded
    assert main(["check", str(plain), "--require-green"]) == EXIT_GATE_FAILED  # 001-FR-002 failed
    assert main(["check", str(plain), "--green-threshold", "25"]) == EXIT_OK
    assert main(["check", str(plain), "--green-threshold", "26"]) == EXIT_GATE_FAILED
    unknown = _write_report(tmp_path / "c.json", unknown=["001-FR-099"])
    assert main(["check", str(unknown)]) == EXIT_OK
    assert main(["check", str(unknown), "--fail-on-unknown"]) == EXIT_GATE_FAILED
    unmarked = _write_report(tmp_path / "d.json", unmarked_tests=["t.py::c"])
    assert main(["check", str(unmarked)]) == EXIT_GATE_FAILED
    collect_only = _write_report(tmp_path / "e.json", tests_ran=False, outcomes={}, green=[])
    assert main(["check", str(collect_only), "--require-green"]) == EXIT_GATE_FAILED


@pytest.mark.requirement("001-FR-041")
def test_check_rejects_missing_and_malformed_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "absent.json")]) == EXIT_BAD_REPORT
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    assert main(["check", str(tmp_path / "junk.json")]) == EXIT_BAD_REPORT
    (tmp_path / "other.json").write_text('{"spec_id": "001"}', encoding="utf-8")
    assert main(["check", str(tmp_path / "other.json")]) == EXIT_BAD_REPORT
    err = capsys.readouterr().err
    assert "absent.json does not exist" in err
    assert "other.json is not a traceability report" in err
    assert "Traceback" not in err


@pytest.mark.requirement("001-FR-041", "001-FR-042")
def test_run_writes_report_and_applies_threshold(
    pytester: pytest.Pytester, spec_file: Path, read_json: ReadJson
) -> None:
    pytester.makepyfile(
        test_cli_tree="""
        import pytest

        @pytest.mark.requirement("001-FR-001")
        def test_one():
            pass

        @pytest.mark.requirement("001-FR-002")
        def test_two():
            pass
        """
    )
    args = [*MODULE, "--spec", str(spec_file), "--report", "out/r.json"]
    ok = pytester.run(*args, "--threshold", "50", "--", "-p", "no:cacheprovider")
    assert ok.ret == 0
    assert read_json(pytester.path / "out" / "r.json")["coverage_map"] == {
        "001-FR-001": ["test_cli_tree.py::test_one"],
        "001-FR-002": ["test_cli_tree.py::test_two"],
        "001-FR-003": [],
        "001-FR-004a": [],
    }
    # Unknown options go to pytest too: -k deselects test_two, so coverage drops to 25 %.
    low = pytester.run(*args, "--threshold", "50", "-k", "test_one", "-p", "no:cacheprovider")
    assert low.ret == 1
    low.stdout.fnmatch_lines(["FAILED: requirement coverage 25.00% is below the threshold 50%"])
    checked = pytester.run(*MODULE, "check", "out/r.json", "--threshold", "25")
    assert checked.ret == 0
    checked.stdout.fnmatch_lines(["spec 001: 1/4 requirements covered (25.00%)*", "OK"])
