"""001-FR-026, the channels a secret could still take out of a run: warnings, ``record_property``,
xfail reasons, parametrize ids (terminal, JUnit, ``--traceability-report``; serial and under
xdist), pieces of a secret that pytest's truncation leaves (``-l`` locals, assertion diffs),
secrets escaped by ``repr`` or JSON, a ``*_config`` override returning a dict; and a secret too
short to mask, which the run must at least say.

Each inner run is a real pytest run of the plugin whose every written byte is searched.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from floe_testing.redaction import SecretValues
from support.secret_channels import SECRET, assert_nothing_of, run_channels

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("clean_service_env")]


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KIND_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.requirement("001-FR-026")
def test_no_secret_in_warnings_properties_xfail_reasons_ids_or_cut_values(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serially here (with the plugin's floors too); under xdist in the traceability tier,
    which has xdist installed: ``tests/traceability/test_report.py``."""
    run_channels(pytester, monkeypatch)


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
    """The dict is shown with default flags: in a failing test's message (and, with pytest
    9 (not 8.2), among the test's arguments). Its password (the user's own variable, unknown to
    the run until the fixture returns it) is masked."""
    monkeypatch.setenv("MY_DB_PASSWORD", SECRET)
    pytester.makeconftest(textwrap.dedent(OVERRIDE_AS_DICT))
    pytester.makepyfile(test_dict="""
        def test_uses_the_config(postgres_config):
            raise AssertionError(f"cannot use {postgres_config}")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    output = (pytester.path / "stdout").read_text()
    assert_nothing_of(SECRET, output, "stdout")
    assert "AssertionError: cannot use {'host': '127.0.0.1', 'port': 1, 'password': '***'}" \
        in output, output
    result.assert_outcomes(failed=1)


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


@pytest.mark.requirement("001-FR-026")
def test_a_client_credential_masks_its_secret_in_pieces_and_never_the_client_s_name() -> None:
    """``POLARIS_CREDENTIAL=client:secret``: the client is a name (Polaris' messages name the
    principal), so only the secret part is masked in pieces; the whole, as a whole."""
    values = SecretValues()
    values.add_credential("floe-it-client-4d2a:catalog-s3cr3t-Zk9x", "env POLARIS_CREDENTIAL")
    assert values.redact("principal 'floe-it-client-4d2a' is not authorized") == (
        "principal 'floe-it-client-4d2a' is not authorized")
    assert values.redact("credential=floe-it-client-4d2a:catalog-s3cr3t-Zk9x") == (
        "credential=***")
    assert values.redact("cut: floe-it-client-4d2a:catalog-s3...") == (
        "cut: floe-it-client-4d2a:***...")
    assert values.redact("run of 12: talog-s3cr3t-Z here") == "run of 12: *** here"
