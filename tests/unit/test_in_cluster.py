"""Inside a pod (KUBERNETES_SERVICE_HOST set, no kubeconfig named), services are reached by DNS,
never forwarded, and the pod's cluster is reused. "In-cluster" is defined once
(``in_cluster_mode``): the settings and the directory ask the same function."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe_testing.cluster.settings import load_settings
from floe_testing.endpoint import Endpoint
from floe_testing.location import in_cluster_mode
from floe_testing.service_directory import ServiceDirectory
from support.directories import table_directory

pytestmark = [pytest.mark.unit, pytest.mark.requirement("001-FR-010")]


def test_in_cluster_mode_is_a_pod_without_a_named_kubeconfig(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    assert in_cluster_mode(None)
    assert not in_cluster_mode(tmp_path / "kubeconfig"), "a named kubeconfig may be another cluster"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert not in_cluster_mode(None)


def test_without_a_cluster_a_service_resolves_to_its_dns_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    endpoint = ServiceDirectory().address("catalog-x", 8181, "floe-test")
    assert (endpoint.host, endpoint.port) == ("catalog-x.floe-test.svc.cluster.local", 8181)
    assert endpoint.via == "service DNS"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert "no cluster in this process" in ServiceDirectory().address("catalog-x", 8181).via


def test_the_cluster_answers_when_there_is_one() -> None:
    with table_directory() as cluster:
        cluster.endpoints[("web", 80, "ns1")] = Endpoint("127.0.0.1", 40123, "port-forward",
                                                        "forward")
        from floe_testing.service_directory import active_directory

        found = active_directory().address("web", 80, "ns1")
        assert found.port == 40123
        assert found.forwarded, "the endpoint says itself that it is a forward"


def test_in_a_pod_the_cluster_is_reused_never_created(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    settings = load_settings(pytester.parseconfigure())
    assert settings.in_cluster
    assert settings.reuse, "a pod's cluster must never be created or deleted by the plugin"


def test_an_explicit_kubeconfig_wins_over_in_cluster(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBECONFIG", str(pytester.path / "kubeconfig"))
    settings = load_settings(pytester.parseconfigure())
    assert not settings.in_cluster
    assert settings.kubeconfig_source == "KUBECONFIG"


def test_a_thread_a_test_starts_finds_the_cluster_through_the_test_s_context() -> None:
    """The run's directory is a context variable (a pytester run inside a test gets its own):
    a thread started bare does not see it, one running in the test's copied context does, as
    the README says."""
    from concurrent.futures import ThreadPoolExecutor
    from contextvars import copy_context

    from floe_testing.service_directory import active_directory

    def port() -> int:
        return active_directory().address("web", 80, "ns1").port

    with table_directory() as cluster, ThreadPoolExecutor(1) as pool:
        cluster.endpoints[("web", 80, "ns1")] = Endpoint("127.0.0.1", 40123, "port-forward",
                                                        "forward")
        assert port() == 40123
        assert pool.submit(port).result(timeout=10) == 80, "a bare thread: no cluster, DNS"
        assert pool.submit(copy_context().run, port).result(timeout=10) == 40123
