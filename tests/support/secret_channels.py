"""A run of the plugin whose tests put a secret on every channel pytest writes to (warnings,
``record_property``, xfail reasons, parametrize ids, cut values in ``-l`` locals and
assertion diffs, ``repr``/JSON forms), and the checks that none of it leaked: shared by the
unit tier (serial) and the traceability tier (under xdist, which the unit tier's floors lack).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from floe_testing.redaction import MASK

#: long enough that pytest truncates it in an assertion diff; characters that URL-, JSON- and
#: XML-encoding change
SECRET = "Pg-pw+s3cr3t/=&%7E-4f1a-l0ng-en0ugh-9Zq"


def pieces(secret: str, length: int) -> set[str]:
    """Every run of ``length`` characters of the secret."""
    return {secret[i:i + length] for i in range(len(secret) - length + 1)}


def assert_nothing_of(secret: str, data: str, where: str, *, length: int = 6) -> None:
    """Neither the secret nor any ``length`` consecutive characters of it are in ``data``."""
    for piece in sorted(pieces(secret, length)):
        assert piece not in data, f"{piece!r} (of the secret) leaked in {where}"


CHANNELS = """
    import json
    import os
    import warnings

    import pytest

    PW = os.environ["POSTGRES_PASSWORD"]


    def test_warns():
        warnings.warn(f"connecting as floe with {PW}")

    def test_records_a_property(record_property):
        record_property("password", PW)

    @pytest.mark.xfail(reason=f"the server refuses {PW}")
    def test_xfail_marker():
        raise AssertionError("expected")

    def test_xfail_call():
        pytest.xfail(f"refused {PW}")

    @pytest.mark.requirement("001-FR-026")
    @pytest.mark.parametrize("password", [PW, PW + "2", "user-" + PW])
    def test_parametrized(password):
        assert password == "the right one"   # pytest cuts this diff in the secret

    @pytest.mark.requirement("001-FR-026")
    @pytest.mark.parametrize("n", [1, 2], ids=[PW, "plain"])
    def test_explicit_ids(n):
        assert n

    @pytest.mark.parametrize("n", [pytest.param(1, id=PW), pytest.param(2, id="x" + PW)])
    def test_param_ids(n):
        assert n

    def test_truncated_local():
        value = "x" * 100 + PW + "y" * 200   # -l cuts this at 240 characters, in the secret
        assert not value

    def test_escaped_forms():
        print(repr({"password": PW}), json.dumps({"password": PW}))
        assert False
"""


def _written(pytester: pytest.Pytester, *paths: Path) -> dict[str, str]:
    found = {name: (pytester.path / name).read_bytes().decode(errors="replace")
             for name in ("stdout", "stderr")}
    for path in paths:
        assert path.is_file(), f"{path.name} was not written"
        found[path.name] = path.read_text()
    return found


def run_channels(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                 *workers: str) -> None:
    """Run :data:`CHANNELS` with the secret in ``POSTGRES_PASSWORD`` and check every byte
    written: terminal, JUnit, the traceability report."""
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    pytester.makepyfile(test_channels=textwrap.dedent(CHANNELS))
    junit, trace = pytester.path / "junit.xml", pytester.path / "trace.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rA", "-l", "-v", *workers, f"--junitxml={junit}",
        "-o", "junit_family=xunit1", f"--traceability-report={trace}", timeout=120)
    written = _written(pytester, junit, trace)
    for where, data in written.items():
        assert_nothing_of(SECRET, data, where)
    output = written["stdout"]
    outcomes = result.parseoutcomes()
    assert outcomes.get("xfailed") == 2, output
    assert outcomes.get("failed") == 5, output
    # the secrets were in play and are shown masked, not dropped
    assert f"connecting as floe with {MASK}" in output  # warnings summary
    assert f'<property name="password" value="{MASK}"' in written["junit.xml"]
    assert f'message="the server refuses {MASK}"' in written["junit.xml"]
    assert f"refused {MASK}" in output
    # one masked id per test, the same in terminal, JUnit and the traceability report;
    # ids equal once masked are numbered as pytest numbers equal ids
    ids = {"test_parametrized[***]", "test_parametrized[***2]", "test_parametrized[user-***]",
           "test_explicit_ids[***]", "test_explicit_ids[plain]", "test_param_ids[***]",
           "test_param_ids[x***]"}
    for test_id in ids:
        assert f"test_channels.py::{test_id} " in output, test_id
        assert f'name="{test_id}"' in written["junit.xml"], test_id
    report = json.loads(written["trace.json"])
    assert sorted(report["coverage_map"]["001-FR-026"]) == sorted(
        f"test_channels.py::{i}" for i in ids
        if i.startswith(("test_parametrized", "test_explicit_ids")))
    assert report["outcomes"]["001-FR-026"] == {"passed": 2, "failed": 3, "skipped": 0,
                                                "not_run": 0}
    # pieces: the diff's and the local's cut values, masked where they were cut
    assert "AssertionError: assert '***...***' == 'the right one'" in output
    assert re.search(r"value += 'x{100}\*\*\*\.\.\.y+'", output), output
    assert "{'password': '***'} {\"password\": \"***\"}" in output


