"""ServiceRequirement and PollingConfig validation rules of the data model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from floe_testing.polling import PollingConfig
from floe_testing.service_requirement import ServiceRequirement

pytestmark = pytest.mark.unit


@pytest.mark.requirement("001-FR-033")
@pytest.mark.parametrize("port", [1, 5432, 65535])
def test_service_requirement_accepts_ports_in_range(port: int) -> None:
    req = ServiceRequirement(name="postgres", port=port)
    assert req.port == port
    assert req.namespace == "floe-test"


@pytest.mark.requirement("001-FR-033")
@pytest.mark.parametrize("port", [0, -1, 65536, 70000])
def test_service_requirement_rejects_ports_out_of_range(port: int) -> None:
    with pytest.raises(ValidationError, match="port"):
        ServiceRequirement(name="postgres", port=port)


@pytest.mark.requirement("001-FR-033")
@pytest.mark.parametrize("namespace", ["floe-test", "a", "ns-1", "0abc", "a" * 63])
def test_service_requirement_accepts_dns1123_namespaces(namespace: str) -> None:
    assert ServiceRequirement(name="s", port=1, namespace=namespace).namespace == namespace


@pytest.mark.requirement("001-FR-033")
@pytest.mark.parametrize(
    "namespace", ["Floe_Test", "-x", "x-", "a" * 64, "floe_test", "UPPER", "", "a.b"]
)
def test_service_requirement_rejects_non_dns1123_namespaces(namespace: str) -> None:
    with pytest.raises(ValidationError) as info:
        ServiceRequirement(name="s", port=1, namespace=namespace)
    assert "DNS-1123" in str(info.value)


@pytest.mark.requirement("001-FR-033")
def test_service_requirement_is_hashable_and_frozen() -> None:
    a = ServiceRequirement(name="minio", port=9000)
    assert {a, ServiceRequirement(name="minio", port=9000)} == {a}
    with pytest.raises(ValidationError):
        a.port = 1


@pytest.mark.requirement("001-FR-030")
def test_polling_config_defaults() -> None:
    cfg = PollingConfig()
    assert (cfg.timeout, cfg.interval, cfg.description) == (30.0, 0.5, "condition")


@pytest.mark.requirement("001-FR-030")
def test_polling_config_accepts_minimums() -> None:
    cfg = PollingConfig(timeout=1.0, interval=0.1)
    assert (cfg.timeout, cfg.interval) == (1.0, 0.1)


@pytest.mark.requirement("001-FR-030")
@pytest.mark.parametrize(
    ("field", "value"), [("timeout", 0.99), ("timeout", 0), ("interval", 0.09), ("interval", -1)]
)
def test_polling_config_rejects_below_minimum(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        PollingConfig.model_validate({field: value})
