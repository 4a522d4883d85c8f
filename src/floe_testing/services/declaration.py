"""A service, declared once: everything floe-testing does for it follows from one statement.

A :class:`ServiceDeclaration` names the Kubernetes Service (name, port, namespace) that the
stack's manifests expose, its Secret and which of its keys are credentials, the env variables
that point it at a running server instead (``<NAME>_HOST``, ...), how to build a client and how
to check health. :func:`~floe_testing.services.fixtures.service_fixtures` turns it into a
config fixture and a client fixture with the names it gives; the plugin finds the declaration
behind them and so plans the service's component for the tests that use it, forwards it (or
uses its DNS name in a pod, or the env endpoint), masks its credentials, and diagnoses its pods
when a test fails.
The five built-in services are declared the same way (``floe_testing.services.<name>``).

In a ``conftest.py`` (or a plugin, or a test module), one statement (:mod:`.fixtures`)::

    jaeger_config, jaeger_client = declare_service(
        name="jaeger", service="jaeger", port=16686,
        client=lambda config: JaegerQuery(config.url))

Plain data, kept light (no pydantic, no client library, nothing of the modules that use it):
the plugin loads the built-in declarations on every run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from floe_testing.endpoint import DEFAULT_K8S_NAMESPACE, dns_name
from floe_testing.errors import ConfigError
from floe_testing.naming import is_dns_label

if TYPE_CHECKING:
    from floe_testing.service_requirement import ServiceRequirement

#: the attribute a declared service's fixtures carry (how the plugin finds the declaration)
DECLARATION_ATTRIBUTE = "floe_service"
#: a client factory: ``client(config)`` returns the client, or yields it and cleans up after
ClientFactory = Callable[[Any], Any]
Scope = Literal["function", "class", "module", "package", "session"]


def import_path(path: str) -> Any:
    """``module:attribute`` imported (config classes and helpers load on first use)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(eq=False)  # a declaration is itself: compared and hashed by identity; never changed
class ServiceDeclaration:
    """One service: where the cluster has it, how the tests get at it (see the module doc)."""

    #: short name: the fixtures' prefix (``jaeger_config``), the env prefix (``JAEGER_``)
    name: str
    #: the Kubernetes Service and its port ("" for a service that runs in the test process)
    service: str = ""
    port: int = 0
    namespace: str = DEFAULT_K8S_NAMESPACE
    extra_ports: tuple[int, ...] = ()
    #: the Secret holding the service's credentials and settings, and which of its keys go
    #: into which config field: ``credentials`` are secrets (masked everywhere), ``values``
    #: are not (user names, bucket names)
    secret: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    #: the generic config's URL parts (``url`` = scheme://host:port/path)
    scheme: str = "http"
    path: str = ""
    #: ``client(config)`` -> the client (or a generator yielding it, cleaning up after); None:
    #: the fixture yields the config itself (``host``, ``port``, ``url``)
    client: ClientFactory | None = None
    #: ``health(config)`` raises (or returns False) unless the service answers; default: a
    #: TCP connection to its address
    health: Callable[[Any], object] | None = None
    #: the module the client needs and the command that installs it
    client_module: str = ""
    install: str = ""
    #: fixture names (default ``<name>_config`` and ``<name>_client``, or ``<name>_endpoint``
    #: without a client) and the client fixture's scope
    config_fixture: str = ""
    client_fixture: str = ""
    client_scope: Scope = "function"

    # -- what the built-ins set; a user's declaration derives them -------------------------

    #: env prefix (default ``<NAME>_``) and the config field whose env var names a server of
    #: the user's ("this service is mine, not the cluster's")
    env_prefix: str = ""
    endpoint_field: str = "host"
    #: ``module:Class`` of the config (a ServiceSettings); default: generated from this
    #: declaration (host, port, scheme, path, a SecretStr per credential, a str per value;
    #: :func:`~floe_testing.services.configs.config_class`)
    config: str = ""
    #: ``module:function`` that opens the client: ``(config, request or None)`` -> a context
    #: manager (the built-ins' helpers); default: the generic
    #: :class:`~floe_testing.services.helper.ServiceHelper`
    opener: str = ""
    #: the config's secret fields, named without importing pydantic (default: the credentials)
    secret_fields: tuple[str, ...] = ()
    #: config fields the cluster provides: set by env only together with the endpoint variable
    cluster_fields: tuple[str, ...] = ()
    #: config fields that take another declared service's address (``field -> its name``)
    endpoint_of: Mapping[str, str] = field(default_factory=dict)
    #: ``(host, port, secret data) -> config values`` (default: host, port and the Secret's
    #: keys as declared)
    from_cluster: Callable[[str, int, Mapping[str, str]], dict[str, Any]] | None = None
    #: ``config -> (host, port)`` it connects to (default: its ``host`` and ``port``)
    address_of: Callable[[Any], tuple[str, int]] | None = None
    #: public names of the built-ins' modules (``PostgresConfig`` -> ``module:attribute``)
    exports: Mapping[str, str] = field(default_factory=dict)
    #: what is made from the declaration on first use (its generated config class)
    generated: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ConfigError(f"declare_service(name={self.name!r}): the name prefixes fixtures "
                              "and env variables: a lowercase Python identifier, e.g. 'jaeger'")
        for what, label in (("service", self.service), ("namespace", self.namespace)):
            if self.service and not is_dns_label(label):
                raise ConfigError(f"declare_service(name={self.name!r}, {what}={label!r}): a "
                                  "Kubernetes name: lowercase letters, digits and '-', at most "
                                  "63, as in the manifests")
        if self.service and not 0 < self.port < 65536:
            raise ConfigError(f"declare_service(name={self.name!r}, port={self.port!r}): the "
                              "Kubernetes Service's port, 1-65535")
        both = set(self.credentials) & set(self.values)
        if both:
            raise ConfigError(f"declare_service(name={self.name!r}): {sorted(both)} listed "
                              "as both credentials and values")

    # -- names -------------------------------------------------------------------------

    @property
    def config_fixture_name(self) -> str:
        return self.config_fixture or f"{self.name}_config"

    @property
    def client_fixture_name(self) -> str:
        if self.client_fixture:
            return self.client_fixture
        generic = not self.opener and self.client is None
        return f"{self.name}_endpoint" if generic else f"{self.name}_client"

    @property
    def prefix(self) -> str:
        return self.env_prefix or f"{self.name.upper()}_"

    def env_var(self, config_field: str) -> str:
        """The env variable that sets ``config_field``."""
        return f"{self.prefix}{config_field}".upper()

    @property
    def endpoint_env(self) -> str:
        """The env variable whose presence means "this service is mine, not the cluster's"."""
        return self.env_var(self.endpoint_field)

    @property
    def secret_env_vars(self) -> tuple[str, ...]:
        """The env variables that hold this service's secrets (masked from the first line)."""
        return tuple(self.env_var(f) for f in self.secret_fields or tuple(self.credentials))

    @property
    def in_cluster(self) -> bool:
        """Whether the service lives in the cluster (DuckDB runs in the test process)."""
        return bool(self.service)

    @property
    def dns_name(self) -> str:
        """The Service's cluster-internal DNS name (the configs' default host)."""
        return dns_name(self.service, self.namespace)

    @property
    def fields_from_cluster(self) -> tuple[str, ...]:
        """Config fields the cluster provides (address and the Secret's)."""
        return self.cluster_fields or ("host", "port", *self.credentials, *self.values)

    def endpoint_from_env(self) -> bool:
        """True when the env variable naming this service's endpoint is set (or the service
        is not the cluster's at all)."""
        import os

        return not self.in_cluster or bool(os.environ.get(self.endpoint_env))

    def requirement(self) -> ServiceRequirement:
        from floe_testing.service_requirement import ServiceRequirement

        return ServiceRequirement(name=self.service, port=self.port, namespace=self.namespace)

    def serves(self, service: str, port: int, namespace: str) -> bool:
        """Whether this is the declaration of ``service:port`` in ``namespace``."""
        return (self.in_cluster and (service, namespace) == (self.service, self.namespace)
                and port in (self.port, *self.extra_ports))

    # -- the config ----------------------------------------------------------------------

    def values_from_cluster(self, host: str, port: int,
                            secret: Mapping[str, str]) -> dict[str, Any]:
        """The config values the cluster provides: the reachable address and the Secret's."""
        if self.from_cluster is not None:
            return self.from_cluster(host, port, secret)
        found: dict[str, Any] = {"host": host, "port": port}
        for config_field, key in {**self.credentials, **self.values}.items():
            if key in secret:
                found[config_field] = secret[key]
        return found

    def address(self, config: Any) -> tuple[str, int]:
        """The host and port a config of this service connects to."""
        if self.address_of is not None:
            return self.address_of(config)
        return str(config.host), int(config.port)


def declaration_of(obj: object) -> ServiceDeclaration | None:
    """The declaration behind a fixture made by
    :func:`~floe_testing.services.fixtures.service_fixtures`."""
    # the instance's own attributes only: a dynamic ``__getattr__`` (``pytest.mark``) would
    # make one up
    found = (getattr(obj, "__dict__", None) or {}).get(DECLARATION_ATTRIBUTE)
    return found if isinstance(found, ServiceDeclaration) else None
