"""A service the packaged stack does not ship, declared in one statement, gets what the built-ins
get: config and client fixtures with the names it chose, its env endpoint, its credentials
masked, ``ServiceRequirement``/``IntegrationTestBase`` working for it, its client library named
when missing, one-screen errors when it does not answer (bounded in time), a helper usable
without pytest. The built-ins are declared the same way, and every list of them is derived: a
test fails when one is missing anywhere. (Under xdist: tests/integration; its cluster paths,
forward, DNS in a pod, ``--floe-in-cluster``: tests/cluster and tests/stack.)"""

from __future__ import annotations

import ast
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib.metadata import metadata
from pathlib import Path

import pytest

import floe_testing
from floe_testing import ConfigError, InfrastructureError, ServiceDeclaration, ServiceHelper
from floe_testing.services import builtin_services
from support.http_server import QuietHandler, serving

pytestmark = [pytest.mark.unit, pytest.mark.requirement("001-FR-025")]

REPO = Path(__file__).resolve().parents[2]
TOKEN = "echo-T0ken-9f2c7e1a"
LIMIT = 30.0


class _Echo(QuietHandler):
    def do_GET(self) -> None:
        self.reply(200, b"pong" if self.headers.get("Authorization") == f"Bearer {TOKEN}"
                   else b"who?")


@pytest.fixture
def echo_server() -> Iterator[int]:
    """A real HTTP server on 127.0.0.1 that answers ``pong`` to the right bearer token."""
    with serving(_Echo) as port:
        yield port


DECLARATION = """
import requests

from floe_testing import declare_service


def session(config):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {config.token.get_secret_value()}"
    yield s
    s.close()


def answers(config):
    return requests.get(config.url, timeout=2).status_code < 500


echo_config, echo_client = declare_service(
    name="echo", service="echo", port=8080, secret="echo-credentials",
    credentials={"token": "ECHO_TOKEN"}, client=session, health=answers,
    client_module="requests", install="pip install requests")
"""


def _env(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("ECHO_HOST", "127.0.0.1")
    monkeypatch.setenv("ECHO_PORT", str(port))
    monkeypatch.setenv("ECHO_TOKEN", TOKEN)


def test_a_declared_service_gets_its_fixtures_its_env_endpoint_and_its_secret_masked(
        pytester: pytest.Pytester, clean_service_env: pytest.MonkeyPatch,
        echo_server: int) -> None:
    _env(clean_service_env, echo_server)
    pytester.makeconftest(DECLARATION)
    pytester.makepyfile(test_echo="""
        from floe_testing import IntegrationTestBase, ServiceRequirement


        def test_client_and_config(echo_client, echo_config):
            assert echo_client.get(echo_config.url, timeout=5).text == "pong"
            assert echo_config.reached.via == "from env ECHO_HOST"
            print("the token is", echo_config.token.get_secret_value())
            assert False, "fails to show its captured output"


        class TestBase(IntegrationTestBase):
            required_services = [ServiceRequirement(name="echo", port=8080)]

            def test_required_by_name(self):
                pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", timeout=LIMIT)
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "the token is ***" in output, output
    assert TOKEN not in output
    assert "kind cluster" not in output, "an env endpoint needs no cluster"


def test_a_service_an_env_variable_names_is_planned_for_no_test(
        clean_service_env: pytest.MonkeyPatch) -> None:
    """Neither a test asking for its fixture nor one listing it in ``required_services``
    makes the run deploy or forward a service whose endpoint env gives; the others are
    planned (by the same declaration's ``ServiceRequirement``)."""
    from types import SimpleNamespace
    from typing import ClassVar

    from floe_testing import IntegrationTestBase, ServiceRequirement
    from floe_testing.planning import needed_services
    from floe_testing.services.registry import builtin_registry

    clean_service_env.delenv("ECHO_HOST", raising=False)
    registry = builtin_registry()
    registry.add(ServiceDeclaration(name="echo", service="echo", port=8080))
    echo = ServiceRequirement(name="echo", port=8080)
    postgres = registry.named("postgres")
    assert postgres is not None

    class TestBoth(IntegrationTestBase):
        required_services: ClassVar[list[ServiceRequirement]] = [
            echo, postgres.requirement()]

    items = [SimpleNamespace(fixturenames=["echo_client"], cls=None),
             SimpleNamespace(fixturenames=["postgres_connection"], cls=None),
             SimpleNamespace(fixturenames=[], cls=TestBoth)]
    planned = lambda: needed_services(items, registry)  # type: ignore[arg-type]  # noqa: E731
    assert planned() == {echo, postgres.requirement()}
    clean_service_env.setenv("ECHO_HOST", "127.0.0.1")
    assert planned() == {postgres.requirement()}
    clean_service_env.setenv("POSTGRES_HOST", "127.0.0.1")
    assert planned() == set()


def test_without_a_client_the_fixture_is_the_checked_endpoint_and_a_module_may_declare(
        pytester: pytest.Pytester, clean_service_env: pytest.MonkeyPatch,
        echo_server: int) -> None:
    _env(clean_service_env, echo_server)
    pytester.makepyfile(test_mine="""
        from floe_testing import declare_service

        echo_config, echo_endpoint = declare_service(
            name="echo", service="echo", port=8080, secret="echo-credentials",
            credentials={"token": "ECHO_TOKEN"}, path="/ping")


        def test_endpoint(echo_endpoint):
            assert (echo_endpoint.host, echo_endpoint.path) == ("127.0.0.1", "/ping")
            assert echo_endpoint.url.endswith("/ping")
            assert echo_endpoint.url.startswith("http://127.0.0.1:")
            assert type(echo_endpoint).__name__ == "EchoConfig"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=LIMIT)
    result.assert_outcomes(passed=1)


def test_a_missing_client_library_is_named_before_any_cluster_work(
        pytester: pytest.Pytester, clean_service_env: pytest.MonkeyPatch) -> None:
    pytester.makeconftest("""
        from floe_testing import declare_service

        trino_config, trino_client = declare_service(
            name="trino", service="trino", port=8080, client=lambda config: None,
            client_module="no_such_trino_client", install="pip install 'trino[sqlalchemy]'")
    """)
    pytester.makepyfile(test_t="def test_t(trino_client):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=LIMIT)
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert ("trino_client needs the 'no_such_trino_client' module, which is not installed"
            in output), output
    assert "Install it with: pip install 'trino[sqlalchemy]'." in output
    for cluster_word in ("kind cluster", "manifests from", "Traceback"):
        assert cluster_word not in output, cluster_word


@pytest.mark.parametrize("listening", [True, False], ids=["hung", "closed"])
def test_an_endpoint_that_does_not_answer_fails_on_one_screen_in_bounded_time(
        pytester: pytest.Pytester, clean_service_env: pytest.MonkeyPatch,
        tcp_listener: int, closed_port: int, listening: bool) -> None:
    _env(clean_service_env, tcp_listener if listening else closed_port)
    pytester.makeconftest(DECLARATION)
    pytester.makepyfile(test_echo="def test_echo(echo_client):\n    raise AssertionError('no')\n")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={junit}",
                                           timeout=LIMIT)
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    (case,) = ET.parse(junit).getroot().iter("testcase")
    assert float(case.get("time", "inf")) < 15, "the health check is bounded"
    assert "echo at http://127.0.0.1:" in output, output
    assert "is not usable (address from env ECHO_HOST)" in output
    assert "ECHO_HOST, ECHO_PORT, ECHO_TOKEN (or your echo_config fixture)" in output
    assert "Traceback" not in output
    assert TOKEN not in output


def test_a_bad_declaration_names_its_field(pytester: pytest.Pytester) -> None:
    with pytest.raises(ConfigError, match=r"declare_service\(name='Echo-1'\): the name prefixes"):
        ServiceDeclaration(name="Echo-1", service="echo", port=80)
    with pytest.raises(ConfigError, match=r"port=70000\): the Kubernetes Service's port"):
        ServiceDeclaration(name="echo", service="echo", port=70000)
    with pytest.raises(ConfigError, match=r"service='Echo_Web'\): a Kubernetes name"):
        ServiceDeclaration(name="echo", service="Echo_Web", port=80)


def test_the_helper_works_without_pytest(monkeypatch: pytest.MonkeyPatch, echo_server: int,
                                         closed_port: int) -> None:
    declaration = ServiceDeclaration(name="echo", service="echo", port=8080,
                                     credentials={"token": "ECHO_TOKEN"})
    _env(monkeypatch, echo_server)
    with ServiceHelper(declaration) as endpoint:
        assert (endpoint.host, endpoint.port) == ("127.0.0.1", echo_server)
        assert endpoint.token.get_secret_value() == TOKEN
    monkeypatch.setenv("ECHO_PORT", str(closed_port))
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match=r"address from env ECHO_HOST"), \
            ServiceHelper(declaration):
        pass
    assert time.monotonic() - started < 15

    # a declaration that says where its config connects (address_of) is checked there
    served = ServiceDeclaration(name="echo", service="echo", port=8080,
                                address_of=lambda config: ("127.0.0.1", echo_server))
    with ServiceHelper(served) as endpoint:
        assert endpoint.port == closed_port, "the config is the env's; the address is its own"


# -- the built-ins are declared the same way: every list is derived ----------------------------


def _type_checking_names() -> set[str]:
    """The names the package's ``if TYPE_CHECKING:`` block imports (for type checkers)."""
    tree = ast.parse(Path(floe_testing.__file__).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom):
                    # ``import X as X``: an explicit re-export (mypy's --no-implicit-reexport)
                    names.update(alias.name for alias in stmt.names if alias.asname == alias.name)
    return names


def test_the_public_names_are_derived_and_type_checkers_see_the_same() -> None:
    """``__all__`` is no list in the source: the general names and every built-in's exports;
    the one static list (for type checkers) names exactly those, and ``import *`` gives them."""
    source = Path(floe_testing.__file__).read_text()
    assert "__all__ =" not in source, "__all__ is derived, not written out"
    services = {name for service in builtin_services() for name in service.exports}
    public = floe_testing.__all__
    assert len(public) == len(set(public))
    assert services <= set(public)
    assert "declare_service" in public
    assert "IntegrationTestBase" in public
    assert _type_checking_names() == set(public), "the TYPE_CHECKING block drifted"
    namespace: dict[str, object] = {}
    exec("from floe_testing import *", namespace)  # the star import users write
    assert set(public) <= set(namespace)


@pytest.mark.parametrize("service", builtin_services(), ids=lambda s: s.name)
def test_a_built_in_is_in_every_list_derived_from_its_declaration(
        service: ServiceDeclaration, pytester: pytest.Pytester) -> None:
    assert service.exports, "a built-in names its public config and helper"
    for name in service.exports:
        assert name in floe_testing.__all__, name
        assert name in _type_checking_names(), f"{name}: not visible to type checkers"
        assert getattr(floe_testing, name) is not None
    extra = service.install.split("[", 1)[1].split("]", 1)[0]
    assert extra == service.name
    assert extra in (metadata("floe-testing").get_all("Provides-Extra") or [])
    listed = pytester.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    fixtures = listed.stdout.str()
    for fixture in (service.config_fixture_name, service.client_fixture_name):
        assert re.search(rf"^{fixture}( \[\w+ scope\])? -- ", fixtures, re.M), fixture
    readme = (REPO / "README.md").read_text()
    assert f"`{service.client_fixture_name}`" in readme
    if service.in_cluster:
        manifest = (REPO / "manifests" / f"{service.name}.yaml").read_text()
        assert f"name: {service.service}\n" in manifest


def test_the_readme_declaration_runs_as_written(
        pytester: pytest.Pytester, clean_service_env: pytest.MonkeyPatch,
        echo_server: int) -> None:
    readme = (REPO / "README.md").read_text()
    block = readme.split("```python\n# conftest.py\nimport requests\n", 1)[1].split("```", 1)[0]
    pytester.makeconftest("import requests\n" + block)
    clean_service_env.setenv("JAEGER_HOST", "127.0.0.1")
    clean_service_env.setenv("JAEGER_PORT", str(echo_server))
    clean_service_env.setenv("JAEGER_TOKEN", TOKEN)
    pytester.makepyfile(test_traces="""
        def test_traces(jaeger_client, jaeger_config):
            assert jaeger_config.url.endswith("/api")
            assert jaeger_client.get(f"{jaeger_config.url}/services", timeout=5).text == "pong"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=LIMIT)
    result.assert_outcomes(passed=1)
