"""Which services the selected tests need, so the run brings them up together at the first need.

A test needs a service when it requests the service's ``*_config`` fixture (directly or through
a client fixture) and no env var names that service's endpoint, or when it is an
``IntegrationTestBase`` that lists it in ``required_services``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from floe_testing.service_spec import SERVICE_SPECS

if TYPE_CHECKING:
    import pytest

    from floe_testing.service_requirement import ServiceRequirement

_CONFIG_FIXTURES = {f"{key}_config": spec for key, spec in SERVICE_SPECS.items()}


def needed_services(items: list[pytest.Item]) -> set[ServiceRequirement]:
    """Services these items need that env vars do not already provide."""
    needed: set[ServiceRequirement] = set()
    for item in items:
        names = getattr(item, "fixturenames", ())
        for fixture, spec in _CONFIG_FIXTURES.items():
            if fixture in names and not spec.endpoint_from_env():
                from floe_testing.service_requirement import ServiceRequirement

                needed.add(ServiceRequirement(name=spec.service_name, port=spec.port,
                                              namespace=spec.k8s_namespace))
    base = sys.modules.get("floe_testing.base.integration")
    if base is not None:  # no test module imported it: no item can be an IntegrationTestBase
        for item in items:
            cls = getattr(item, "cls", None)
            if isinstance(cls, type) and issubclass(cls, base.IntegrationTestBase):
                needed.update(getattr(cls, "required_services", ()))
    return needed
