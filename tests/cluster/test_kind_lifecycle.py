"""The kind path for real: create, apply, wait, forward, use, tear down; keep and reuse."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .conftest import cluster_args, is_up, port_forward_pids

pytestmark = [pytest.mark.cluster]

POSTGRES_TEST = """
    import os

    def test_sql_through_forward(postgres_connection, postgres_config):
        assert postgres_config.host == "127.0.0.1"
        with postgres_connection.cursor() as cur:
            cur.execute("select current_database(), 41 + 1")
            name, answer = cur.fetchone()
        assert answer == 42 and name.startswith("test_sql_through_forward")
"""


@pytest.mark.requirement("001-FR-001", "001-FR-006", "001-FR-007", "001-FR-009", "001-FR-012",
                         "001-FR-011", "001-FR-020")
def test_plain_pytest_creates_cluster_and_leaves_nothing(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    pytester.makepyfile(test_pg=POSTGRES_TEST)
    result = pytester.runpytest_subprocess(*cluster_args("-s"))
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*using kind cluster 'floe-test' (create;*",
        "*create kind cluster 'floe-test' (*s)",
        "*manifests: * created*",
        "*ready: Deployment/postgres in floe-test (*s)",
        "*forwarded floe-test/svc/postgres:5432 -> 127.0.0.1:*",
        "*stopped 1 port-forwards*",
        "*delete kind cluster 'floe-test' (*s)",
    ])
    assert "Deployment/web" not in out, "a service no test needed was deployed"
    assert not is_up(), "the kind cluster was not deleted"
    assert not port_forward_pids()


@pytest.mark.requirement("001-FR-003")
def test_keep_cluster_then_next_run_reuses_it(
        pytester: pytest.Pytester, no_cluster: None, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_pg=POSTGRES_TEST)
    first = pytester.runpytest_subprocess(*cluster_args("-s", "--keep-cluster"))
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*kept kind cluster 'floe-test' (--keep-cluster)*"])
    assert is_up(), "--keep-cluster deleted the cluster"
    assert not port_forward_pids(), "forwards must stop even when the cluster is kept"

    # a rerun in the same project finds the cluster through the kubeconfig kind wrote for it;
    # a failing test that used a cluster service shows that service's pods in its report
    pytester.makepyfile(test_fails="""
        def test_wrong_expectation(postgres_connection):
            assert postgres_connection.closed == 1
    """)
    warm = pytester.runpytest_subprocess(*cluster_args("--keep-cluster"))
    warm.assert_outcomes(passed=1, failed=1)
    warm.stdout.fnmatch_lines([
        "*using kind cluster 'floe-test' (reuse, kept by an earlier run*",
        "*floe-testing: svc/postgres in floe-test*",
        "pod postgres-*: phase Running",
        "*container postgres (*): running*",
        "*last log lines of postgres:*",
    ])
    (pytester.path / "test_fails.py").unlink()
    assert "export kubeconfig" not in warm.stdout.str()
    assert is_up()

    # the next run starts from another project directory: no kubeconfig of ours there yet
    elsewhere = pytester.mkdir("elsewhere")
    (elsewhere / "test_pg.py").write_text((pytester.path / "test_pg.py").read_text())
    monkeypatch.chdir(elsewhere)
    second = pytester.runpytest_subprocess(*cluster_args("-s"), str(elsewhere / "test_pg.py"))
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines([
        "*using kind cluster 'floe-test' (reuse;*",
        "*export kubeconfig of kind cluster 'floe-test' (*s)",
        "*manifests: 0 created, 0 updated, * unchanged*",
    ])
    assert not is_up(), "the second run (without --keep-cluster) should delete the cluster"


@pytest.mark.requirement("001-FR-005")
def test_run_without_service_fixtures_creates_nothing(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    pytester.makepyfile(test_plain="def test_math():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("--kind-bin", "/nonexistent/kind", "-s")
    result.assert_outcomes(passed=1)
    assert "floe-testing:" not in result.stdout.str()
    assert not is_up()


@pytest.mark.requirement("001-FR-001", "001-FR-053")
def test_project_images_are_loaded_into_the_kind_cluster(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    """--floe-load-image: an image archive goes in through kind before anything is applied;
    an image kind cannot find fails naming it, with kind's words, and nothing is left."""
    archive = Path(os.environ.get("LOCALKUBE_HOME", "/var/cache/localkube")) / "images" \
        / "busybox.tar"
    if not archive.is_file():
        pytest.fail(f"{archive} is missing: `localkube up` builds it", pytrace=False)
    pytester.makepyfile(test_pg=POSTGRES_TEST)
    loaded = pytester.runpytest_subprocess(*cluster_args("-s", f"--floe-load-image={archive}"))
    loaded.assert_outcomes(passed=1)
    loaded.stdout.fnmatch_lines([
        f"*load image archive {archive} into kind cluster 'floe-test' (*s)",
        "*manifests: * created*",
    ])
    missing = pytester.runpytest_subprocess(
        *cluster_args("-s", "--floe-load-image=floe-testing.invalid/never-built:1"))
    missing.assert_outcomes(errors=1)
    missing.stdout.fnmatch_lines([
        "*kind could not load 'floe-testing.invalid/never-built:1' into cluster 'floe-test'*",
        "*Build or pull the image locally first*",
    ])
    assert not re.search(r"manifests: \d+ created", missing.stdout.str()), \
        "applied although the image is missing"
    assert not is_up()
