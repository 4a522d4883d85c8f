"""001-FR-026, the channels a secret could still take out of a run: warnings, ``record_property``,
xfail reasons, parametrize ids (terminal, JUnit, ``--traceability-report``; serial and under
xdist), pieces of a secret that pytest's truncation leaves (``-l`` locals, assertion diffs),
secrets escaped by ``repr`` or JSON, a ``*_config`` override returning a dict; and a secret too
short to mask, which the run must at least say.

Each inner run is a real pytest run of the plugin whose every written byte is searched.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from floe_testing.redaction import MASK, SecretValues

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("clean_service_env")]

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


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KIND_PATH"):
        monkeypatch.delenv(name, raising=False)


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


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_no_secret_in_warnings_properties_xfail_reasons_ids_or_cut_values(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: tuple[str, ...]
) -> None:
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


@pytest.mark.requirement("001-FR-026")
def test_the_secret_in_a_repr_or_json_with_backslashes_and_quotes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``repr`` and JSON escape a backslash and quotes: the secret shows differently there."""
    secret = "Back\\slash\"and'quote-7Kq2"
    monkeypatch.setenv("MINIO_SECRET_KEY", secret)
    pytester.makepyfile(test_escaped="""
        import json, os
        import pytest

        KEY = os.environ["MINIO_SECRET_KEY"]

        def test_printed():
            print(repr(KEY), repr({"k": KEY}), repr([KEY, "'"]), json.dumps({"k": KEY}))
            raise AssertionError(json.dumps([KEY]))

        @pytest.mark.parametrize("key", [KEY])
        def test_id(key):
            assert key == "other"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "-l", "-v",
                                           timeout=120)
    output = (pytester.path / "stdout").read_text()
    escaped = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1],
               secret.replace("\\", "\\\\").replace("'", "\\'")}
    for form in escaped:
        assert form not in output, f"{form!r} leaked:\n{output}"
    assert_nothing_of(secret, output, "stdout", length=8)
    assert "Captured stdout call" in output, output
    result.assert_outcomes(failed=2)


OVERRIDE_AS_DICT = """
    import os

    import pytest


    @pytest.fixture(scope="session")
    def postgres_config():
        return {"host": "127.0.0.1", "port": 1, "password": os.environ["MY_DB_PASSWORD"]}
"""


@pytest.mark.requirement("001-FR-026")
def test_a_config_override_returning_a_dict_has_its_secrets_masked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dict is shown as the fixtures' argument in the default traceback: its password is
    masked (the user's own variable, unknown to the run until the fixture returns it)."""
    monkeypatch.setenv("MY_DB_PASSWORD", SECRET)
    pytester.makeconftest(textwrap.dedent(OVERRIDE_AS_DICT))
    pytester.makepyfile(test_dict="""
        def test_pg(postgres_connection):
            raise AssertionError("must not be reached")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    output = (pytester.path / "stdout").read_text()
    assert_nothing_of(SECRET, output, "stdout")
    assert "'password': '***'" in output, output
    assert "must not be reached" not in output
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.requirement("001-FR-026")
def test_a_secret_too_short_to_mask_is_said_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``POSTGRES_PASSWORD=admin`` cannot be masked (masking "admin" would garble words): the
    warnings summary says so once, naming the variable and not the value; a config of the
    user's with a short password is named by its field and fixture."""
    monkeypatch.setenv("POSTGRES_PASSWORD", "admin")
    pytester.makeconftest("""
        import pytest
        from floe_testing import MinIOConfig

        @pytest.fixture(scope="session")
        def minio_config():
            return MinIOConfig(endpoint="http://127.0.0.1:1", secret_key="k3y")
    """)
    pytester.makepyfile(test_short="""
        def test_one(minio_config):
            assert minio_config

        def test_two(minio_config):
            assert minio_config
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    output = (pytester.path / "stdout").read_text()
    result.assert_outcomes(passed=2)
    summary = output[output.index("warnings summary"):]
    assert summary.count("SecretNotMaskedWarning: env POSTGRES_PASSWORD holds a secret "
                         "shorter than 6 characters") == 1, summary
    assert summary.count("SecretNotMaskedWarning: MinIOConfig.secret_key (from the "
                         "minio_config fixture) holds a secret shorter than 6") == 1, summary
    assert "cannot mask it in reports" in summary
    assert "admin" not in summary
    assert "k3y" not in summary


# -- the masking itself -------------------------------------------------------------------


@pytest.mark.requirement("001-FR-026")
def test_pieces_are_masked_where_values_are_cut_and_long_runs_anywhere() -> None:
    values = SecretValues()
    values.add(SECRET, "polaris-stack-Jd5w9Rb3Xs")
    cases = {
        # pytest's saferepr: the secret's head before the ellipsis, its tail after it
        "assert 'Pg-pw+s3cr3t...-9Zq' == 'x'": "assert '***...***' == 'x'",
        "'xxxxPg-...yyyy'": "'xxxx***...yyyy'",
        "message cut at the end of a line: Pg-pw+s3\nnext": "message cut at the end of a "
                                                            "line: ***\nnext",
        "any 12 in a row: s3cr3t/=&%7E-4f here": "any 12 in a row: *** here",
        # names that share a few characters with a secret stay readable
        "Secret floe-test/polaris-credentials, Job polaris-bootstrap": (
            "Secret floe-test/polaris-credentials, Job polaris-bootstrap"),
        "Pg-pw in the middle of a line, progress .... and Pg- ok": (
            "Pg-pw in the middle of a line, progress .... and Pg- ok"),
    }
    for text, expected in cases.items():
        assert values.redact(text) == expected, text
        assert values.contained_in(text) is (text != expected)
