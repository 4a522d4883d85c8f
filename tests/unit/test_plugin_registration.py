"""The plugin as pytest sees it: fixtures, options, markers, laziness, and errors that name the
culprit without leaking secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

FIXTURES = [
    "postgres_connection", "minio_client", "minio_bucket", "polaris_catalog",
    "polaris_namespace", "duckdb_connection", "dagster_client", "floe_cluster",
    "postgres_config", "minio_config", "polaris_config", "duckdb_config", "dagster_config",
]
SECRET = "s3cr3t-XYZ"


def _fixture_listing(result: pytest.RunResult) -> set[str]:
    return {line.split()[0] for line in result.stdout.lines if line and not line[0].isspace()
            and line.split()}


@pytest.mark.requirement("001-FR-005")
def test_fixtures_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    assert result.ret == 0
    listed = _fixture_listing(result)
    missing = [name for name in FIXTURES if name not in listed]
    assert not missing, result.stdout.str()
    result.stdout.fnmatch_lines(["floe_cluster*session*"], consecutive=False)


@pytest.mark.requirement("001-FR-053")
def test_help_shows_floe_and_pytest_kind_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    for option in ("--floe-manifests", "--floe-image-override", "--floe-ready-timeout",
                   "--keep-cluster", "--kind-bin", "--floe-in-cluster", "--floe-shards",
                   "--floe-runner-image", "--floe-shard-timeout"):
        result.stdout.fnmatch_lines([f"*{option}*"])
    # README and --help stay in step: every option of ours is documented there
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    ours = set(re.findall(r"--floe-[a-z-]+[a-z]", result.stdout.str()))
    assert ours, "no --floe-* option in --help"
    assert sorted(o for o in ours if f"`{o}" not in readme) == []


@pytest.mark.requirement("001-FR-040")
def test_requirement_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.requirement*"])


@pytest.mark.requirement("001-FR-005")
def test_unit_only_run_needs_no_cluster_tools(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = pytester.mkdir("empty-bin")
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setenv("KUBECONFIG", str(pytester.path / "no-such-dir" / "kubeconfig"))
    monkeypatch.delenv("DUCKDB_DATABASE", raising=False)
    monkeypatch.delenv("DUCKDB_READ_ONLY", raising=False)
    pytester.makepyfile(
        test_plain="""
        from floe_testing.base import IntegrationTestBase

        def test_arithmetic():
            assert 1 + 1 == 2

        def test_duckdb(duckdb_connection):
            assert duckdb_connection.execute("select 42").fetchone() == (42,)

        class TestNoServices(IntegrationTestBase):
            def test_namespace(self):
                assert self.namespace.startswith("test_")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    output = result.stdout.str() + result.stderr.str()
    for needle in ("kind cluster", "kubectl", "port-forward", "manifest"):
        assert needle not in output, needle
    assert not (pytester.path / ".pytest-kind").exists()


@pytest.mark.requirement("001-FR-005")
def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_uses="""
        def test_pg(postgres_connection):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:floe_testing")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'postgres_connection' not found*"])
    help_result = pytester.runpytest("-p", "no:floe_testing", "--help")
    assert "--floe-manifests" not in help_result.stdout.str()


def _postgres_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_pg="""
        def test_pg(postgres_connection):
            raise AssertionError("must not be reached")
        """
    )


def _assert_one_screen_without_secret(result: pytest.RunResult) -> str:
    output = "\n".join(result.outlines + result.errlines)
    assert SECRET not in output
    assert len(result.outlines) + len(result.errlines) < 40, output
    assert "Traceback" not in output
    assert "must not be reached" not in output
    return output


@pytest.mark.requirement("001-FR-053")
@pytest.mark.usefixtures("clean_service_env")
def test_bad_env_port_fails_naming_it_without_leaking_the_password(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PORT", "notaport")
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    _postgres_test(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = _assert_one_screen_without_secret(result)
    assert "POSTGRES_PORT" in output
    assert "'notaport'" in output


@pytest.mark.requirement("001-FR-053")
@pytest.mark.usefixtures("clean_service_env")
def test_refused_connection_names_address_and_env_vars_without_the_password(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PORT", str(closed_port))
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    _postgres_test(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = _assert_one_screen_without_secret(result)
    assert f"127.0.0.1:{closed_port}" in output
    for env in ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_PASSWORD"):
        assert env in output
