"""001-FR-040: the ``requirement`` marker is registered and its IDs are validated at collection."""

from __future__ import annotations

import re

import pytest

from floe_testing.traceability.ids import DEFAULT_ID_PATTERN, check_marker_args, id_prefix

pytestmark = pytest.mark.requirement("001-FR-040")

PATTERN = re.compile(DEFAULT_ID_PATTERN)


@pytest.mark.parametrize("good", ["001-FR-001", "123-FR-999", "001-FR-040a"])
def test_valid_ids_pass_the_data_model_pattern(good: str) -> None:
    ids, problems = check_marker_args((good,), {}, PATTERN)
    assert ids == [good]
    assert problems == []


@pytest.mark.parametrize(
    "bad",
    ["001-FR-1", "01-FR-001", "001-fr-001", "001-SC-001", "001-FR-001AB", " 001-FR-001", ""],
)
def test_malformed_ids_are_problems_naming_the_id(bad: str) -> None:
    ids, problems = check_marker_args((bad,), {}, PATTERN)
    assert ids == []
    assert len(problems) == 1
    assert repr(bad) in problems[0].message


def test_non_string_empty_and_keyword_markers_are_problems() -> None:
    assert check_marker_args((), {}, PATTERN)[1][0].message == "no requirement ID given"
    _, problems = check_marker_args((40,), {}, PATTERN)
    assert "of type int" in problems[0].message
    _, problems = check_marker_args(("001-FR-001",), {"id": "x"}, PATTERN)
    assert "keyword" in problems[0].message


def test_list_argument_and_duplicates_are_accepted_once() -> None:
    ids, problems = check_marker_args((["001-FR-001", "001-FR-002"], "001-FR-001"), {}, PATTERN)
    assert ids == ["001-FR-001", "001-FR-002"]
    assert problems == []


def test_id_prefix_is_the_part_before_the_first_dash() -> None:
    assert id_prefix("001-FR-040") == "001"
    assert id_prefix("nodash") is None


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.requirement("001-FR-001")
        def test_ok():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    markers = pytester.runpytest("--markers", "-p", "no:cacheprovider")
    markers.stdout.fnmatch_lines(["@pytest.mark.requirement(*ids)*"])


def test_malformed_id_is_a_one_screen_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ids="""
        import pytest

        @pytest.mark.requirement("001-FR-001")
        def test_good():
            pass

        @pytest.mark.requirement("001-FR-1")
        def test_typo():
            pass

        @pytest.mark.requirement(7)
        def test_number():
            pass

        @pytest.mark.requirement()
        @pytest.mark.parametrize("x", [1, 2, 3])
        def test_empty(x):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_ids.py*",
            "invalid @pytest.mark.requirement*",
            "  test_ids.py::test_typo: invalid requirement ID '001-FR-1'*",
            "  test_ids.py::test_number: requirement ID 7 is of type int*",
            "  test_ids.py::test_empty: no requirement ID given",
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out
    assert "def test_typo" not in out  # no source listing, just the message
    # A parametrised test with a bad marker is named once, not once per parameter.
    # (counted in the error block: under CI=true pytest repeats messages untruncated in the
    # short summary)
    errors_block = out.split("short test summary info")[0]
    assert errors_block.count("test_empty: no requirement ID given") == 1
    # The module as a whole is not run: the good test is held back with the bad ones.
    assert "passed" not in out


def test_class_and_module_markers_are_validated_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_cls="""
        import pytest

        @pytest.mark.requirement("FR-7")
        class TestThing:
            def test_one(self):
                pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["  test_cls.py::TestThing::test_one: invalid requirement ID 'FR-7'*"]
    )


def test_custom_pattern_from_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        r"""
        [pytest]
        requirement_id_pattern = REQ-\d+
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.requirement("REQ-12")
        def test_custom():
            pass

        @pytest.mark.requirement("001-FR-001")
        def test_default_shape_now_wrong():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*test_default_shape_now_wrong: invalid requirement ID '001-FR-001'*"]
    )
    assert "test_custom:" not in result.stdout.str()


def test_invalid_pattern_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        requirement_id_pattern = ([unclosed
        """
    )
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*requirement_id_pattern*not a valid regular expression*"])


def test_bad_id_is_reported_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.requirement("001-FR-XYZ")
        def test_bad():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["  test_bad.py::test_bad: invalid requirement ID '001-FR-XYZ'*"])
    assert "Traceback" not in result.stdout.str()


def test_the_readme_pattern_accepts_floe_ids(pytester: pytest.Pytester) -> None:
    """The README shows how to accept floe's own IDs (``9c-FR-005``); that ini runs as shown."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```ini\n(.*?)```", readme, re.S)
    assert block is not None, "the README lost its requirement_id_pattern example"
    pytester.makeini(block.group(1))
    pytester.makepyfile(test_floe_ids="""
        import pytest

        @pytest.mark.requirement("9c-FR-005")
        def test_floe_id():
            pass

        @pytest.mark.requirement("001-FR-020")
        def test_data_model_id():
            pass
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    pytester.makepyfile(test_floe_ids="""
        import pytest

        @pytest.mark.requirement("9c_FR_5")
        def test_typo():
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*9c_FR_5*"])
