"""``IntegrationTestBase``: required services checked before each test, cleanups after it."""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from floe_testing.errors import CleanupError, FloeTestingError, fail
from floe_testing.naming import short_uid, unique_k8s_name
from floe_testing.service_directory import active_directory, probe_tcp
from floe_testing.service_requirement import ServiceRequirement


def _requirements(cls: type[IntegrationTestBase]) -> list[ServiceRequirement]:
    """``required_services``, each a :class:`ServiceRequirement`; anything else fails naming
    the class and the entry, with the form it must take."""
    declared = cls.required_services
    if not isinstance(declared, list | tuple):
        fail(f"{cls.__name__}.required_services must be a list of ServiceRequirement, got "
             f"{type(declared).__name__}")
    wrong = [entry for entry in declared if not isinstance(entry, ServiceRequirement)]
    if wrong:
        fail(f"{cls.__name__}.required_services holds {wrong[0]!r}, not a ServiceRequirement; "
             "write e.g. ServiceRequirement(name=\"postgres\", port=5432) (from floe_testing "
             "import ServiceRequirement).")
    return list(declared)


class IntegrationTestBase(ABC):
    """Base class for tests that need services of the stack.

    Declare ``required_services``; before each test every one is located (env endpoint, or the
    cluster, provisioned on first need) and connected to. A missing service fails the test with
    what was tried and how to fix it: it is never skipped. Register cleanups with
    :meth:`add_cleanup`; they run after the test, pass or fail, last registered first.
    """

    required_services: ClassVar[list[ServiceRequirement]] = []

    _namespace: str | None = None
    _cleanups: list[tuple[str, Callable[[], Any]]]

    @classmethod
    def generate_unique_namespace(cls, prefix: str = "test") -> str:
        """``{prefix}_{uuid[:8]}`` as the data model specifies (fine for Iceberg, SQL)."""
        return f"{prefix}_{short_uid()}"

    @classmethod
    def generate_unique_k8s_namespace(cls, prefix: str = "test") -> str:
        """``{prefix}-{uuid[:8]}``: a DNS-1123 label, since Kubernetes rejects ``_``."""
        return unique_k8s_name(prefix)

    @property
    def namespace(self) -> str:
        """This test's unique namespace (generated once per test)."""
        if self._namespace is None:
            self._namespace = self.generate_unique_namespace()
        return self._namespace

    def check_infrastructure(self, service: str, port: int, namespace: str | None = None) -> None:
        """Fail (not skip) the test when ``service:port`` cannot be reached, saying why."""
        requirement = ServiceRequirement(
            name=service, port=port, **({"namespace": namespace} if namespace else {})
        )
        try:
            endpoint = active_directory().address(requirement.name, requirement.port,
                                                  requirement.namespace)
        except FloeTestingError as exc:
            fail(
                f"Required service {service}:{port} (namespace {requirement.namespace}) is not "
                f"available: {exc}")
        reason = probe_tcp(endpoint)
        if reason is not None:
            fail(
                f"Required service {service}:{port} (namespace {requirement.namespace}) is not "
                f"reachable: tried {endpoint}: {reason}.\nFix: make sure the service is "
                "deployed and ready (kubectl get pods -n "
                f"{requirement.namespace}), or set the env var naming its endpoint.")

    def add_cleanup(self, func: Callable[[], Any], description: str | None = None) -> None:
        """Run ``func`` after this test, even if the test fails."""
        label = description or str(getattr(func, "__name__", None) or repr(func))
        self.__dict__.setdefault("_cleanups", []).append((label, func))

    def setup_method(self, method: Callable[..., Any] | None = None) -> None:
        """Check every required service before the test body runs."""
        self._cleanups = []
        self._namespace = None
        for requirement in _requirements(type(self)):
            self.check_infrastructure(requirement.name, requirement.port, requirement.namespace)
        self._floe_checked = True

    @pytest.fixture(autouse=True)
    def _floe_setup_and_cleanup_guard(self) -> Iterator[None]:
        """The checks and cleanups hold even when a subclass overrides ``setup_method`` or
        ``teardown_method`` without calling ``super()``: then this fixture does them."""
        __tracebackhide__ = True
        if not self.__dict__.get("_floe_checked"):
            IntegrationTestBase.setup_method(self)
        yield
        if self.__dict__.get("_cleanups"):
            IntegrationTestBase.teardown_method(self)

    def teardown_method(self, method: Callable[..., Any] | None = None) -> None:
        """Run the registered cleanups, newest first; report every failure together."""
        failures: list[str] = []
        cleanups, self._cleanups = self.__dict__.get("_cleanups", []), []
        for description, func in reversed(cleanups):
            try:
                func()
            except Exception as exc:  # noqa: BLE001 - every cleanup runs; all failures reported
                failures.append(f"{description}: {type(exc).__name__}: {exc}")
        if failures:
            raise CleanupError(
                f"{len(failures)} cleanup(s) failed:\n" + "\n".join(f"  - {f}" for f in failures)
            )
