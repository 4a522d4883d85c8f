"""001-FR-043: hard-coded ``time.sleep`` calls in tests can be forbidden (``--forbid-sleep``).

The sources below are data for the detector; nothing here sleeps.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from floe_testing.traceability.sleep_check import find_sleep_calls_in_source

pytestmark = pytest.mark.requirement("001-FR-043")

ReadJson = Callable[[Path], dict[str, Any]]


def _lines(source: str) -> list[int]:
    return [f.line for f in find_sleep_calls_in_source(textwrap.dedent(source), "t.py")]


@pytest.mark.parametrize(
    "source",
    [
        "import time\ntime.sleep(1)\n",
        "from time import sleep\nsleep(1)\n",
        "from time import sleep as nap\nnap(1)\n",
        "import time as t\nt.sleep(1)\n",
        "import os, time\ntime.sleep(1)\n",
        "from time import *\nsleep(1)\n",
        "x = 1\n__import__('time').sleep(1)\n",
        "def test():\n    import time\n    time.sleep(1)\n",
        "import time\nretry(wait=time.sleep)\n",
    ],
)
def test_every_spelling_is_found(source: str) -> None:
    assert _lines(source) == [2 if not source.startswith("def") else 3]


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio\nasync def f():\n    await asyncio.sleep(1)\n",
        "from asyncio import sleep\nasync def f():\n    await sleep(1)\n",
        "def sleep(x):\n    return x\nsleep(1)\n",
        "import time\nobj.sleep(1)\ntime.monotonic()\n",
        "import time as t\ntime = object()\nstub.time.sleep(1)\n",
        "s = 'time.sleep(1)'  # only a string\n",
        "import time\ntime.sleep = fake\n",
        "this is not python (\n",
    ],
)
def test_no_false_positives(source: str) -> None:
    assert _lines(source) == []


def test_findings_carry_line_column_and_spelling() -> None:
    source = "from time import sleep as nap\n\n\ndef test():\n    nap(0.5)\n"
    [finding] = find_sleep_calls_in_source(source, "tests/test_a.py")
    assert finding.format() == "tests/test_a.py:5:5: call nap(0.5) (time.sleep)"


def test_forbid_sleep_fails_the_run_with_file_and_line(
    pytester: pytest.Pytester, read_json: ReadJson
) -> None:
    pytester.makepyfile(
        test_slow="""
        import time as t
        from time import sleep as nap
        import asyncio

        def sleep(x):
            return x

        def test_a():
            t.sleep(0)

        def test_b():
            nap(0)
            sleep(0)
            asyncio.sleep
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--forbid-sleep", "--traceability-report", "r.json"
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "FAILED: time.sleep is forbidden (--forbid-sleep)*",
            "  test_slow.py:9:5: call t.sleep(0) (time.sleep)",
            "  test_slow.py:12:5: call nap(0) (time.sleep)",
        ]
    )
    out = result.stdout.str()
    assert "test_slow.py:13:" not in out  # the module's own sleep() helper
    assert "test_slow.py:14:" not in out  # asyncio.sleep
    assert len(read_json(pytester.path / "r.json")["sleep_violations"]) == 2


def test_conftest_of_collected_dirs_is_checked(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import time
        import pytest

        @pytest.fixture
        def slow():
            time.sleep(0)
        """
    )
    pytester.makepyfile(**{"sub/test_ok": "def test_ok():\n    pass\n"})
    result = pytester.runpytest("-p", "no:cacheprovider", "--forbid-sleep")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  conftest.py:6:5: call time.sleep(0) (time.sleep)"])


def test_without_the_option_sleep_is_allowed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import time\n\ndef test_a():\n    time.sleep(0)\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert "forbidden" not in result.stdout.str()


def test_only_selected_modules_are_checked_and_ini_enables(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nforbid_sleep = true\n")
    pytester.makepyfile(
        test_clean="def test_clean():\n    pass\n",
        test_dirty="import time\n\ndef test_dirty():\n    time.sleep(0)\n",
    )
    assert pytester.runpytest("-p", "no:cacheprovider", "test_clean.py").ret == 0
    dirty = pytester.runpytest("-p", "no:cacheprovider", "test_dirty.py")
    assert dirty.ret == pytest.ExitCode.TESTS_FAILED
    dirty.stdout.fnmatch_lines(["  test_dirty.py:4:5: call time.sleep(0) (time.sleep)"])


def test_forbid_sleep_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow="from time import sleep\n\ndef test_a():\n    sleep(0)\n\n"
        "def test_b():\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--forbid-sleep")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  test_slow.py:4:5: call sleep(0) (time.sleep)"])
    assert result.stdout.str().count("test_slow.py:4:5") == 1  # one finding, not one per worker
