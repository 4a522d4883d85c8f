"""Inside a pod (KUBERNETES_SERVICE_HOST set), services are reached by DNS, never forwarded."""

from __future__ import annotations

import pytest

from floe_testing.cluster.settings import load_settings
from floe_testing.endpoints import (
    Endpoint,
    register_endpoint,
    resolve_endpoint,
    unregister_endpoint,
)

pytestmark = [pytest.mark.unit, pytest.mark.requirement("001-FR-010")]


def test_in_a_pod_a_service_resolves_to_its_dns_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    # a name no other test registers: the endpoint registry lives for the whole process
    endpoint = resolve_endpoint("catalog-x", 8181, "floe-test")
    assert (endpoint.host, endpoint.port) == ("catalog-x.floe-test.svc.cluster.local", 8181)
    assert endpoint.via == "service DNS"


def test_outside_a_pod_an_unforwarded_service_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert "no port-forward registered" in resolve_endpoint("catalog-x", 8181, "floe-test").via


def test_a_registered_endpoint_wins_over_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    register_endpoint("web", 80, "ns1", Endpoint("127.0.0.1", 40123, "kubectl port-forward"))
    try:
        assert resolve_endpoint("web", 80, "ns1").port == 40123
    finally:
        unregister_endpoint("web", 80, "ns1")


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
