"""``-p no:pytest-kind`` (in a project's addopts, say) spares every run pytest-kind's import:
the cluster options stay, registered by floe-testing with pytest-kind's names and defaults."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.requirement("001-FR-062")]


def test_cluster_options_work_with_pytest_kind_blocked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="""
        import sys

        def test_options(pytestconfig):
            assert pytestconfig.getoption("keep_cluster") is True
            assert pytestconfig.getoption("cluster_name") == "mine"
            assert pytestconfig.getoption("kind_bin") == "/opt/kind"
            assert pytestconfig.getoption("kubeconfig") is None
            assert not [m for m in sys.modules if m.startswith(("pytest_kind", "pykube"))]
    """)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:pytest-kind", "--keep-cluster",
        "--cluster-name", "mine", "--kind-bin", "/opt/kind")
    result.assert_outcomes(passed=1)
    assert "--kind-kubectl-bin" in pytester.runpytest_subprocess(
        "-p", "no:pytest-kind", "--help").stdout.str()
