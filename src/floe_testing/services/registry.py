"""The run's declared services: the built-ins and every service a user declared.

A declaration is found through the fixtures it made: every plugin (conftest files and
installed plugins, as pytest registers them) and every collected test module and class is
scanned for fixtures carrying a declaration. From the registry the run knows, by fixture name,
which services a test needs (planning), and by Kubernetes Service, whose address and Secret
an ``IntegrationTestBase`` or ``wait_for_service`` asks for; a newly found declaration's
secret env variables are masked at once.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from floe_testing.services.declaration import ServiceDeclaration, declaration_of

if TYPE_CHECKING:
    from floe_testing.redaction import SecretValues


class ServiceRegistry:
    """The declarations of one run, by fixture name (see the module docstring)."""

    def __init__(self, secrets: SecretValues | None = None) -> None:
        """``secrets``: the run's, where each declaration's secret env values go (none
        outside pytest)."""
        self._secrets = secrets
        self._by_fixture: dict[str, ServiceDeclaration] = {}
        self._scanned: set[int] = set()

    def add(self, declaration: ServiceDeclaration) -> None:
        """Know ``declaration`` by its fixtures' names (a later one of the same name wins, as
        a nearer fixture overrides a farther one); mask its secret env variables."""
        for name in (declaration.config_fixture_name, declaration.client_fixture_name):
            if self._by_fixture.get(name) is not declaration:
                self._by_fixture[name] = declaration
                if self._secrets is not None:
                    self._secrets.add_env(declaration.secret_env_vars)

    def scan(self, holder: object) -> None:
        """Add the declarations behind the fixtures a module or class holds (once each)."""
        if not isinstance(holder, types.ModuleType | type) or id(holder) in self._scanned:
            return
        self._scanned.add(id(holder))
        if getattr(holder, "__module__", None) is None and str(
                getattr(holder, "__name__", "")).startswith("_pytest."):
            return  # pytest's own plugins declare no service
        for value in list(vars(holder).values()):
            declaration = declaration_of(value)
            if declaration is not None:
                self.add(declaration)

    def __iter__(self) -> Iterator[ServiceDeclaration]:
        seen: list[ServiceDeclaration] = []
        for declaration in self._by_fixture.values():
            if not any(d is declaration for d in seen):
                seen.append(declaration)
        return iter(seen)

    def by_fixture(self) -> dict[str, ServiceDeclaration]:
        """Every declared fixture name and its service."""
        return dict(self._by_fixture)

    def serving(self, service: str, port: int, namespace: str) -> ServiceDeclaration | None:
        """The declaration of the Kubernetes Service ``service:port`` in ``namespace``."""
        return next((d for d in self if d.serves(service, port, namespace)), None)

    def named(self, name: str) -> ServiceDeclaration | None:
        """The declaration called ``name`` (``postgres``, ``jaeger``)."""
        return next((d for d in self if d.name == name), None)


def builtin_registry(secrets: SecretValues | None = None) -> ServiceRegistry:
    """A registry of the built-in services (the run starts from it; scripts use it)."""
    from floe_testing.services import builtin_services

    registry = ServiceRegistry(secrets)
    for declaration in builtin_services():
        registry.add(declaration)
    return registry


class ServiceDiscovery:
    """Registered by the plugin at configure: every plugin pytest registers (also those
    registered earlier: the hook is historic) is scanned for declared services."""

    def __init__(self, registry: ServiceRegistry) -> None:
        self.registry = registry

    def pytest_plugin_registered(self, plugin: object) -> None:
        self.registry.scan(plugin)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Test modules and classes are not plugins: scanned as their tests are collected."""
        for item in items:
            self.registry.scan(getattr(item, "module", None))
            self.registry.scan(getattr(item, "cls", None))


#: the run's registry, in ``config.stash``
SERVICES = pytest.StashKey[ServiceRegistry]()
