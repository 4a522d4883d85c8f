"""The default stack in ``manifests/`` against the real API server of localkube.

Images of the full stack cannot be pulled here; every document is validated by a server-side
dry run, and the PostgreSQL component runs for real with the locally built image.
"""

from __future__ import annotations

from pathlib import Path

import pykube
import pytest

from floe_testing.cluster.apply import apply_document, dry_run
from floe_testing.cluster.manifests import apply_order
from floe_testing.cluster.sources import load_manifests
from floe_testing.stack import PACKAGED_MANIFESTS

from .conftest import cluster_args, port_forward_pids

pytestmark = [pytest.mark.cluster]

MANIFESTS = PACKAGED_MANIFESTS


@pytest.mark.requirement("001-FR-027", "001-FR-006")
def test_every_default_manifest_passes_server_side_dry_run(live_cluster: Path) -> None:
    api = pykube.HTTPClient(pykube.KubeConfig.from_file(str(live_cluster)))
    docs = apply_order(load_manifests(MANIFESTS))
    namespaces = [d for d in docs if d.kind == "Namespace"]
    assert namespaces, "the stack defines its namespace"
    for doc in namespaces:  # namespaced objects can only be validated inside one
        apply_document(api, doc, {})
    try:
        dry_run(api, [d for d in docs if d.kind != "Namespace"], {})
    finally:
        for doc in namespaces:
            pykube.Namespace(api, {"metadata": {"name": doc.name}}).delete()


@pytest.mark.requirement("001-FR-027", "001-FR-020", "001-FR-007")
def test_default_postgres_component_serves_postgres_connection(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    pytester.makepyfile(test_pg="""
        def test_sql(postgres_connection, postgres_config):
            assert postgres_config.user == "floe_admin"  # read from the manifests' Secret
            with postgres_connection.cursor() as cur:
                cur.execute("select datname from pg_database where datname = 'dagster'")
                assert cur.fetchone() == ("dagster",), "init script created Dagster's database"
    """)
    result = pytester.runpytest_subprocess(*cluster_args("-s", manifests=MANIFESTS))
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "ready: Deployment/postgres in floe-test" in out
    for other in ("minio", "polaris", "dagster-webserver"):
        assert f"Deployment/{other}" not in out, f"{other} was deployed though no test needs it"
    assert not port_forward_pids()
