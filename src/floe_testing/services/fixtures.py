"""A declared service's fixtures: its config fixture (session-scoped) and its client fixture,
named as declared and carrying the declaration (``floe_service``), which is how the plugin
finds the service behind a test's fixtures. :func:`declare_service` declares and makes both in
one statement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from floe_testing.services.declaration import DECLARATION_ATTRIBUTE, Scope, ServiceDeclaration


def service_fixtures(declaration: ServiceDeclaration) -> tuple[Any, Any]:
    """The config fixture and the client fixture of ``declaration``, named as it says. Assign
    both in a conftest, a plugin or a test module::

        jaeger_config, jaeger_client = service_fixtures(JAEGER)
    """

    def config_fixture(request: pytest.FixtureRequest) -> Any:
        from floe_testing.services.resolve import resolve_config

        return resolve_config(request, declaration)

    def client_fixture(request: pytest.FixtureRequest) -> Iterator[Any]:
        from floe_testing.errors import fail, failing_on_one_screen
        from floe_testing.extras import require_client
        from floe_testing.services.configs import config_class
        from floe_testing.services.helper import open_client

        with failing_on_one_screen():  # before any cluster work: the pip command
            require_client(declaration, declaration.client_fixture_name)
        config = request.getfixturevalue(declaration.config_fixture_name)
        expected = config_class(declaration)
        if not isinstance(config, expected):
            where = (f"from floe_testing import {expected.__name__}"
                     if expected.__name__ in declaration.exports else
                     f"floe_testing.services.configs.config_class("
                     f"{declaration.client_fixture_name}.floe_service)")
            fail(f"{declaration.config_fixture_name} returned a {type(config).__name__}, not a "
                 f"{expected.__name__}: an override of it must return one, e.g. "
                 f"{expected.__name__}(...) ({where}).")
        with failing_on_one_screen(), open_client(declaration, config, request) as client:
            yield client

    config_fixture.__doc__ = (f"{declaration.name}'s settings (env {declaration.prefix}*, else "
                              "the cluster's); override this fixture to point elsewhere.")
    client_fixture.__doc__ = (f"{declaration.name}'s client "
                              f"({declaration.service or 'in this process'}), checked before "
                              "the test, cleaned up after it.")
    made = []
    scopes: tuple[Scope, Scope] = ("session", declaration.client_scope)
    for function, name, scope in (
            (config_fixture, declaration.config_fixture_name, scopes[0]),
            (client_fixture, declaration.client_fixture_name, scopes[1])):
        function.__name__ = function.__qualname__ = name
        setattr(function, DECLARATION_ATTRIBUTE, declaration)
        fixture = pytest.fixture(scope=scope, name=name)(function)
        if fixture is not function:  # pytest 8.4+: a wrapper object
            setattr(fixture, DECLARATION_ATTRIBUTE, declaration)
        made.append(fixture)
    return made[0], made[1]


def declare_service(**declaration: Any) -> tuple[Any, Any]:
    """Declare a service and get its config and client fixtures, in one statement::

        jaeger_config, jaeger_client = declare_service(name="jaeger", service="jaeger",
                                                       port=16686)

    Takes :class:`~floe_testing.services.declaration.ServiceDeclaration`'s fields; the
    declaration is the fixtures' ``floe_service`` attribute (``jaeger_client.floe_service``)."""
    return service_fixtures(ServiceDeclaration(**declaration))
