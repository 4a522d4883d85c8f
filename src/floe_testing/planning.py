"""Which services the selected tests need, so the run brings them up together at the first need.

A test needs a service when it requests one of the service's fixtures (its config or client
fixture, directly or through another fixture) and no env var names that service's endpoint, or
when it is an ``IntegrationTestBase`` that lists it in ``required_services``. The services are
the run's declared ones (:mod:`floe_testing.services.registry`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from floe_testing.service_requirement import ServiceRequirement
    from floe_testing.services.registry import ServiceRegistry


def needed_services(items: list[pytest.Item],
                    registry: ServiceRegistry) -> set[ServiceRequirement]:
    """Services these items need that env vars do not already provide."""
    needed: set[ServiceRequirement] = set()
    by_fixture = registry.by_fixture()
    for item in items:
        for name in getattr(item, "fixturenames", ()):
            declaration = by_fixture.get(name)
            if declaration is not None and not declaration.endpoint_from_env():
                needed.add(declaration.requirement())
    base = sys.modules.get("floe_testing.base.integration")
    if base is not None:  # no test module imported it: no item can be an IntegrationTestBase
        from floe_testing.service_requirement import ServiceRequirement  # imported with it

        for item in items:
            cls = getattr(item, "cls", None)
            if isinstance(cls, type) and issubclass(cls, base.IntegrationTestBase):
                for requirement in getattr(cls, "required_services", ()):
                    # anything else is the base class's to name, when the test starts
                    declaration = registry.serving(
                        requirement.name, requirement.port, requirement.namespace
                    ) if isinstance(requirement, ServiceRequirement) else None
                    if declaration is None or not declaration.endpoint_from_env():
                        needed.add(requirement)
    return needed
