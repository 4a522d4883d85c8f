"""001-FR-053, the bad input catalogue: every kind of bad input ends a real pytest run of the
plugin in a one-screen error naming the culprit, with no traceback and nothing half-done.

No cluster is used. Cases that need one to get that far use what is local and real: a kubeconfig
whose server is a closed port, a tiny Kubernetes API server (``/version``, discovery, create,
delete) run here over HTTP, fake ``kind``/``kubectl`` scripts printing the real tools' error
text, and a local HTTP server standing in for kind's release download.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from floe_testing.cluster.kind_binary import KIND_SHA256, KIND_VERSION, _platform
from floe_testing.cluster.manifests import ManifestError
from floe_testing.cluster.port_forward import PortForward, PortForwardError
from floe_testing.cluster.sources import load_manifests

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("clean_service_env")]

#: Longest acceptable error block (the message under the ``ERROR at setup`` header).
MAX_BLOCK_LINES = 25
KUBECTL_FORWARD_ERROR = (
    "error: unable to forward port because pod is not running. Current status=Pending"
)
KIND_SECOND_CLUSTER_ERROR = (
    'ERROR: localkube runs one cluster and "a" already exists; delete it first'
)
TOKEN = "kubeconfig-t0ken-must-not-show"
PASSWORD = "pg-pw-must-not-show"

NEEDS_POSTGRES = """
    def test_needs_postgres(postgres_connection):
        raise AssertionError("must not be reached")
"""
NEEDS_CLUSTER = """
    def test_needs_cluster(floe_cluster):
        raise AssertionError("must not be reached")
"""
NEEDS_WEB_SERVICE = """
    from floe_testing import IntegrationTestBase, ServiceRequirement

    class TestWeb(IntegrationTestBase):
        required_services = [ServiceRequirement(name="web", port=80, namespace="default")]

        def test_web(self):
            raise AssertionError("must not be reached")
"""


# -- environment: nothing may reach a real cluster, a real kind or the internet -------------


@dataclass
class Sandbox:
    """Where the inner runs find their tools and cache."""

    bin_dir: Path
    kubectl: Path
    cache_dir: Path


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip())
    path.chmod(0o755)
    return path


@pytest.fixture(autouse=True)
def sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, closed_port: int
) -> Sandbox:
    """PATH holds only a fake kubectl (no kind), no KUBECONFIG, a private cache, and a kind
    download URL that refuses connections: a run that wrongly went for a cluster fails here
    instead of touching this machine's cluster or the network."""
    for name in ("KUBECONFIG", "KIND_PATH", "FLOE_MANIFESTS", "FLOE_IMAGE_OVERRIDES",
                 "FLOE_READY_TIMEOUT", "FLOE_CLUSTER_NAME", "FLOE_KIND_DOWNLOAD_URL",
                 "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    bin_dir = tmp_path / "sandbox-bin"
    bin_dir.mkdir()
    kubectl = _script(bin_dir / "kubectl", f"""
        echo "$@" >> "{bin_dir}/kubectl.calls"
        echo "{KUBECTL_FORWARD_ERROR}" >&2
        exit 1
    """)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("FLOE_KIND_DOWNLOAD_URL", f"http://127.0.0.1:{closed_port}/kind")
    return Sandbox(bin_dir, kubectl, cache / "floe-testing")


# -- running the plugin and judging its output ----------------------------------------------


@dataclass
class Run:
    result: pytest.RunResult
    output: str
    block: str
    seconds: float


_HEADER = re.compile(r"^_{3,} .+ _{3,}$")


def _error_block(lines: list[str]) -> list[str]:
    """The lines under the first ``___ ERROR at setup of ... ___`` (or collecting) header."""
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    assert start is not None, "\n".join(lines)
    block: list[str] = []
    for line in lines[start + 1:]:
        if _HEADER.match(line) or line.startswith(("====", "----")):
            break
        block.append(line)
    return block


def run_failing(pytester: pytest.Pytester, test_source: str, *args: str) -> Run:
    """Run the plugin in a fresh process; it must fail (not skip, not pass) on one screen."""
    pytester.makepyfile(test_catalogue=textwrap.dedent(test_source))
    start = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    seconds = time.monotonic() - start
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret != 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) >= 1, output
    assert outcomes.get("skipped", 0) == 0, output
    assert outcomes.get("passed", 0) == 0, output
    assert "must not be reached" not in output, "the test body ran: " + output
    assert "Traceback" not in output, output
    assert "During handling of the above exception" not in output, output
    block = _error_block(result.outlines)
    assert 0 < len(block) < MAX_BLOCK_LINES, output
    return Run(result, output, "\n".join(block), seconds)


def run_usage_error(pytester: pytest.Pytester, test_source: str, *args: str) -> Run:
    """Run the plugin in a fresh process; a bad option, ini key or env value must stop it at
    configure time (usage error, exit 4) on one screen, before any test or cluster work."""
    pytester.makepyfile(test_catalogue=textwrap.dedent(test_source))
    start = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    seconds = time.monotonic() - start
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output, output
    assert "must not be reached" not in output, output
    block = [line for line in result.errlines if line.strip()]
    assert 0 < len(block) < MAX_BLOCK_LINES, output
    return Run(result, output, "\n".join(block), seconds)


def assert_names(run: Run, *culprits: str) -> None:
    for culprit in culprits:
        assert culprit in run.block, f"{culprit!r} not named in:\n{run.block}"


def assert_no_cluster_work(pytester: pytest.Pytester, run: Run) -> None:
    """Nothing was started on the side: no kind state, no kubectl, no progress lines."""
    assert not (pytester.path / ".pytest-kind").exists(), run.output
    assert "floe-testing: " not in run.output, run.output


# -- 1-3: service environment variables ------------------------------------------------------


@pytest.mark.requirement("001-FR-053")
def test_malformed_boolean_env_value(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIO_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("MINIO_SECRET_KEY", PASSWORD)
    monkeypatch.setenv("MINIO_SECURE", "maybe")
    run = run_failing(pytester, """
        def test_s3(minio_client):
            raise AssertionError("must not be reached")
    """)
    assert_names(run, "Invalid MinIOConfig", "secure", "MINIO_SECURE", "'maybe'",
                 "valid boolean")
    assert PASSWORD not in run.output
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
def test_a_region_with_spaces_is_named_before_the_client_sees_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIO_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("MINIO_SECRET_KEY", PASSWORD)
    monkeypatch.setenv("MINIO_REGION", "us east 1")
    run = run_failing(pytester, """
        def test_s3(minio_client):
            raise AssertionError("must not be reached")
    """)
    assert_names(run, "Invalid MinIOConfig", "region", "MINIO_REGION", "'us east 1'",
                 "an S3 region is letters, digits")
    assert "Traceback" not in run.output
    assert PASSWORD not in run.output
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
def test_service_settings_without_the_endpoint_var_are_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compose ``.env`` exported without POSTGRES_HOST would mix its port and password into
    the cluster's PostgreSQL; it is an error before any cluster work, naming both sides."""
    monkeypatch.setenv("POSTGRES_PORT", "5432")
    monkeypatch.setenv("POSTGRES_PASSWORD", PASSWORD)
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, "POSTGRES_PORT, POSTGRES_PASSWORD are set but POSTGRES_HOST is not",
                 "Set POSTGRES_HOST to use your own server, or unset")
    assert PASSWORD not in run.output
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
def test_empty_endpoint_var_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "")
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, "POSTGRES_HOST is set but empty", "Unset it to use the cluster's postgres")
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
def test_port_out_of_range(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PORT", "70000")
    monkeypatch.setenv("POSTGRES_PASSWORD", PASSWORD)
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, "Invalid PostgresConfig", "port", "POSTGRES_PORT", "'70000'", "65535")
    assert PASSWORD not in run.output
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
def test_port_not_a_number(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PORT", "abc")
    run = run_failing(pytester, """
        def test_dagster(dagster_client):
            raise AssertionError("must not be reached")
    """)
    assert_names(run, "Invalid DagsterConfig", "port", "DAGSTER_PORT", "'abc'", "valid integer")
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize(
    ("env", "value", "fixture", "model"),
    [("MINIO_ENDPOINT", "not a url", "minio_client", "MinIOConfig"),
     ("POLARIS_URI", "ftp//x", "polaris_catalog", "PolarisConfig")],
    ids=["minio-endpoint", "polaris-uri"],
)
def test_invalid_url(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    env: str, value: str, fixture: str, model: str,
) -> None:
    monkeypatch.setenv(env, value)
    monkeypatch.setenv("MINIO_SECRET_KEY", PASSWORD)
    monkeypatch.setenv("POLARIS_CREDENTIAL", f"client:{PASSWORD}")
    run = run_failing(pytester, f"""
        def test_service({fixture}):
            raise AssertionError("must not be reached")
    """)
    assert_names(run, f"Invalid {model}", env, repr(value), "valid URL")
    assert PASSWORD not in run.output
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
def test_duckdb_read_only_without_a_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUCKDB_READ_ONLY", "true")
    run = run_failing(pytester, """
        def test_duck(duckdb_connection):
            raise AssertionError("must not be reached")
    """)
    assert_names(run, "Invalid DuckDBConfig", "read_only", "DUCKDB_READ_ONLY", "DUCKDB_DATABASE")
    assert_no_cluster_work(pytester, run)


# -- 4: requirement markers ------------------------------------------------------------------


@pytest.mark.requirement("001-FR-053", "001-FR-040")
def test_bad_requirement_id_is_a_collection_error(pytester: pytest.Pytester) -> None:
    run = run_failing(pytester, """
        import pytest

        @pytest.mark.requirement("FR-1")
        def test_claims_a_typo():
            raise AssertionError("must not be reached")

        def test_innocent():
            raise AssertionError("must not be reached")
    """)
    assert run.result.ret == pytest.ExitCode.INTERRUPTED  # collection error: nothing ran
    assert "ERROR collecting" in run.output
    assert_names(run, "test_catalogue.py::test_claims_a_typo", "'FR-1'", "requirement")
    assert "test_innocent" not in run.block


# -- 8-10: the kubeconfig naming the cluster to reuse ---------------------------------------


def _kubeconfig(path: Path, server: str, context: str = "ctx-under-test") -> Path:
    path.write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        clusters:
        - name: the-cluster
          cluster: {{server: "{server}"}}
        users:
        - name: the-user
          user: {{token: {TOKEN}}}
        contexts:
        - name: {context}
          context: {{cluster: the-cluster, user: the-user}}
        current-context: {context}
        """))
    return path


@pytest.mark.requirement("001-FR-053")
def test_kubeconfig_that_is_yaml_but_no_kubeconfig(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_kube = pytester.path / "settings.yaml"
    not_kube.write_text("database: {host: db, port: 5432}\n")
    monkeypatch.setenv("KUBECONFIG", str(not_kube))
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, f"KUBECONFIG names {not_kube}, which is YAML but not a kubeconfig",
                 "lacks clusters, contexts, users", "kubectl config view --raw")


# -- base classes used wrongly: the class and the fix are named, not our internals ----------


@pytest.mark.requirement("001-FR-053", "001-FR-032")
def test_required_services_given_as_strings(pytester: pytest.Pytester) -> None:
    run = run_failing(pytester, """
        from floe_testing import IntegrationTestBase

        class TestStrings(IntegrationTestBase):
            required_services = ["postgres"]

            def test_it(self):
                raise AssertionError("must not be reached")
    """)
    assert_names(run, "TestStrings.required_services holds 'postgres', not a ServiceRequirement",
                 'ServiceRequirement(name="postgres", port=5432)')
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053", "001-FR-035")
def test_plugin_test_base_without_plugin_type(pytester: pytest.Pytester) -> None:
    run = run_failing(pytester, """
        from floe_testing import PluginTestBase

        class TestMyPlugin(PluginTestBase):
            plugin_name = "mine"

            def test_discovery_only(self):
                self.load_plugin()
                raise AssertionError("must not be reached")
    """, "-k", "test_discovery_only")
    assert_names(run, "TestMyPlugin must declare plugin_type", 'plugin_type = "compute"')


@pytest.mark.requirement("001-FR-032", "001-FR-034")
def test_setup_and_teardown_without_super_still_check_and_clean_up(
    pytester: pytest.Pytester, closed_port: int
) -> None:
    """A subclass overriding setup_method/teardown_method without ``super()``: the required
    services are still checked (here: refused, so the test fails naming it) and cleanups
    registered by a passing test still run."""
    log = pytester.path / "cleanup.log"
    pytester.makepyfile(test_nosuper=f"""
        import pytest
        from floe_testing import IntegrationTestBase, ServiceRequirement

        class TestNoSuperCleanup(IntegrationTestBase):
            def setup_method(self, method):
                self.mine = 1

            def teardown_method(self, method):
                pass

            def test_registers(self):
                self.add_cleanup(lambda: open({str(log)!r}, "a").write("cleaned\\n"))
                assert self.mine == 1

        class TestNoSuperCheck(IntegrationTestBase):
            required_services = [ServiceRequirement(name="ghost", port={closed_port})]

            def setup_method(self, method):
                pass

            def test_needs_ghost(self):
                raise AssertionError("must not be reached")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           f"--kind-bin={pytester.path / 'no-kind'}")
    result.assert_outcomes(passed=1, errors=1)
    assert log.read_text() == "cleaned\n"
    output = result.stdout.str()
    assert "must not be reached" not in output
    assert "ghost" in output


@pytest.mark.requirement("001-FR-053")
def test_kubeconfig_missing(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = pytester.path / "nowhere" / "kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, f"KUBECONFIG names {missing}", "does not exist")
    assert not (pytester.path / ".pytest-kind").exists()


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("kind", ["directory", "yaml-syntax", "binary", "not-a-mapping"])
def test_kubeconfig_unreadable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Running as root, chmod 000 does not stop reads: a directory, broken YAML, bytes that
    are not text, and YAML that is not a kubeconfig stand in for an unreadable file."""
    path = pytester.path / "kubeconfig"
    expected = {"directory": "is a directory", "yaml-syntax": "not a valid kubeconfig",
                "binary": "not a valid kubeconfig",
                "not-a-mapping": "is YAML but not a kubeconfig"}[kind]
    if kind == "directory":
        path.mkdir()
    elif kind == "yaml-syntax":
        path.write_text("apiVersion: v1\nclusters: [\n  unclosed")
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00kubeconfig\x80")
    else:
        path.write_text("- just\n- a list\n")
    monkeypatch.setenv("KUBECONFIG", str(path))
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, f"KUBECONFIG names {path}", expected)
    assert not (pytester.path / ".pytest-kind").exists()


@pytest.mark.requirement("001-FR-053")
def test_kubeconfig_unreachable_fails_fast(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    server = f"https://127.0.0.1:{closed_port}"
    path = _kubeconfig(pytester.path / "kubeconfig", server, context="ctx-gone")
    run = run_failing(pytester, NEEDS_POSTGRES, "--kubeconfig", str(path))
    assert_names(run, str(path), "--kubeconfig", "context 'ctx-gone'", f"server {server}",
                 "unreachable", "Connection refused")
    assert run.seconds < 20, f"took {run.seconds:.1f}s"
    assert TOKEN not in run.output
    assert "using kind cluster" not in run.output


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("content", ["", "# nothing but a comment\n"], ids=["empty", "comment"])
def test_kubeconfig_empty(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    path = pytester.path / "kubeconfig"
    path.write_text(content)
    monkeypatch.setenv("KUBECONFIG", str(path))
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, f"KUBECONFIG names {path}, which is empty", "kubectl config view --raw")
    assert "NoneType" not in run.output
    assert not (pytester.path / ".pytest-kind").exists()


@pytest.mark.requirement("001-FR-053", "001-FR-031")
def test_wait_for_service_with_an_unreachable_kubeconfig_is_one_screen(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    """Called in a test's body, ``wait_for_service`` shows the test's line and its message,
    not the plugin's frames down to the kubeconfig check."""
    server = f"https://127.0.0.1:{closed_port}"
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(pytester.path / "kubeconfig", server)))
    run = run_failing(pytester, """
        from floe_testing import wait_for_service

        def test_waits():
            wait_for_service("postgres", 5432)
            raise AssertionError("must not be reached")
    """)
    assert_names(run, "ServiceUnavailableError: service postgres:5432 in floe-test cannot be "
                      "reached", "is unreachable", f"server {server}", "Connection refused")
    for ours in ("polling.py", "service_directory.py", "session.py", "kubeconfig.py"):
        assert ours not in run.output, run.output
    assert TOKEN not in run.output


@pytest.mark.requirement("001-FR-053")
def test_a_failing_session_fixture_shows_every_test_the_same_screen(
    pytester: pytest.Pytester
) -> None:
    """pytest caches a session fixture's error and raises it again for each later test: every
    test gets the first one's screen, not a traceback through the plugin."""
    pytester.makeconftest("""
        import pytest
        from floe_testing import PostgresConfig

        @pytest.fixture(scope="session")
        def postgres_config():
            return PostgresConfig(host="127.0.0.1", port="not-a-port", password="pw-123456")
    """)
    run = run_failing(pytester, """
        def test_one(postgres_connection):
            raise AssertionError("must not be reached")

        def test_two(postgres_connection):
            raise AssertionError("must not be reached")

        def test_three(postgres_connection):
            raise AssertionError("must not be reached")
    """)
    assert_names(run, "Invalid PostgresConfig", "port [passed to PostgresConfig(port=...)]")
    lines = run.result.outlines
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    assert len(headers) == 3, run.output
    blocks = ["\n".join(_error_block(lines[i:])) for i in headers]
    assert blocks[0] == blocks[1] == blocks[2], run.output
    assert "service_configs.py" not in run.output
    assert "All traceback entries are hidden" not in run.output


# -- 11-13, 15: kind ---------------------------------------------------------------------


@pytest.mark.requirement("001-FR-053")
def test_kind_missing_and_no_network(pytester: pytest.Pytester, sandbox: Sandbox) -> None:
    run = run_failing(pytester, NEEDS_POSTGRES)
    assert_names(run, "kind was not found (--kind-bin, KIND_PATH, PATH)", "Connection refused",
                 "Install kind", "--kind-bin", "KIND_PATH", "KUBECONFIG")
    assert run.seconds < 30, f"took {run.seconds:.1f}s"
    leftovers = [p.name for p in sandbox.cache_dir.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    assert not (pytester.path / ".pytest-kind").exists()


@dataclass
class FileServer:
    url: str
    payload: bytes
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def wrong_kind_release() -> Iterator[FileServer]:
    """A local HTTP server answering every GET with bytes that are not the pinned kind."""
    state = FileServer(url="", payload=b"#!/bin/sh\necho 'not the kind you pinned'\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(state.payload)))
            self.end_headers()
            self.wfile.write(state.payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with _serving(Handler) as port:
        state.url = f"http://127.0.0.1:{port}/kind-linux-amd64"
        yield state


@pytest.mark.requirement("001-FR-053", "001-FR-002")
def test_kind_download_checksum_mismatch(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox,
    wrong_kind_release: FileServer,
) -> None:
    monkeypatch.setenv("FLOE_KIND_DOWNLOAD_URL", wrong_kind_release.url)
    run = run_failing(pytester, NEEDS_POSTGRES)
    expected = KIND_SHA256[_platform()]
    actual = hashlib.sha256(wrong_kind_release.payload).hexdigest()
    assert_names(run, "Checksum mismatch", wrong_kind_release.url, f"expected sha256 {expected}",
                 f"got {actual}", "discarded")
    assert wrong_kind_release.requests == ["/kind-linux-amd64"], "a mismatch is not retried"
    left = sorted(p.name for p in sandbox.cache_dir.iterdir())
    assert [n for n in left if not n.endswith(".lock")] == [], left
    assert not (sandbox.cache_dir / f"kind-{KIND_VERSION}-linux-amd64").exists()
    assert not (pytester.path / ".pytest-kind").exists()


@pytest.mark.requirement("001-FR-053")
def test_kind_bin_that_does_not_exist(pytester: pytest.Pytester) -> None:
    run = run_failing(pytester, NEEDS_POSTGRES, "--kind-bin", "/nonexistent/kind")
    assert_names(run, "--kind-bin names /nonexistent/kind, which does not exist", "Install kind")


@pytest.mark.requirement("001-FR-053")
def test_kind_kubectl_bin_that_does_not_exist(pytester: pytest.Pytester) -> None:
    run = run_failing(pytester, NEEDS_POSTGRES, "--kind-kubectl-bin", "/nonexistent/kubectl")
    assert_names(run, "--kind-kubectl-bin names /nonexistent/kubectl, which does not exist")
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
def test_second_cluster_on_a_single_cluster_host(pytester: pytest.Pytester) -> None:
    """kind (here localkube's stand-in) refuses a second cluster: the run names the cluster
    and shows kind's own words, and never deletes a cluster it did not create."""
    calls = pytester.path / "kind.calls"
    kind = _script(pytester.path / "kind-one-cluster", f"""
        echo "$@" >> "{calls}"
        case "$1" in
          get) echo a; exit 0 ;;
          create) echo '{KIND_SECOND_CLUSTER_ERROR}' >&2; exit 1 ;;
        esac
        echo "unexpected kind call: $*" >&2
        exit 2
    """)
    # relative on purpose: "./kind" must not be looked up on PATH
    run = run_failing(pytester, NEEDS_POSTGRES, "--kind-bin", f"./{kind.name}")
    assert_names(run, "`kind create cluster --name floe-test` failed (exit 1)", str(kind),
                 KIND_SECOND_CLUSTER_ERROR)  # kind's own words, inside the error itself
    assert not (pytester.path / ".pytest-kind" / "floe-test" / "kubeconfig").exists(), (
        "the empty kubeconfig pytest-kind touched before a failed create is removed")
    made = calls.read_text().splitlines()
    assert made[0] == "get clusters"
    assert any(c.startswith("create cluster --name=floe-test") for c in made), made
    assert not any(c.startswith("delete") for c in made), "deleted a cluster it never made"


# -- 16-17: cluster options -----------------------------------------------------------------


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("needs", [NEEDS_POSTGRES, "def test_plain():\n    assert True\n"],
                         ids=["service-run", "unit-only-run"])
def test_bad_image_override(pytester: pytest.Pytester, needs: str) -> None:
    run = run_usage_error(pytester, needs, "--floe-image-override", "nonsense")
    assert_names(run, "--floe-image-override: image override 'nonsense'", "FROM=TO")
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize(("env", "args", "culprit"), [
    ("abc", (), "env FLOE_READY_TIMEOUT: 'abc' is not a number of seconds"),
    (None, ("--floe-ready-timeout=-5",), "--floe-ready-timeout: '-5' must be positive"),
])
def test_bad_ready_timeout(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                           env: str | None, args: tuple[str, ...], culprit: str) -> None:
    if env is not None:
        monkeypatch.setenv("FLOE_READY_TIMEOUT", env)
    run = run_usage_error(pytester, "def test_plain():\n    assert True\n", *args)
    assert_names(run, culprit)
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("option", ["--cluster-name=../../x", "--cluster-name=Floe_Test"])
def test_cluster_name_that_is_no_dns_label(pytester: pytest.Pytester, option: str) -> None:
    run = run_usage_error(pytester, NEEDS_POSTGRES, option)
    assert_names(run, "is not a DNS-1123 label", "--cluster-name")
    assert not (pytester.path.parent / "x").exists()
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053", "001-FR-041")
def test_unwritable_traceability_report_fails_before_any_test(
    pytester: pytest.Pytester
) -> None:
    blocked = pytester.path / "not-a-dir"
    blocked.write_text("a file where a directory should be")
    run = run_usage_error(pytester, "def test_plain():\n    assert True\n",
                          f"--traceability-report={blocked / 'report.json'}")
    assert_names(run, "--traceability-report", "cannot be written", "choose another path")
    assert "passed" not in run.output


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("where", ["proc", "file"])
def test_failure_artifacts_directory_that_cannot_be_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "proc":
        target, expected = "/proc/floe-artifacts", "creating a file in /proc fails"
        monkeypatch.setenv("FLOE_ARTIFACTS", target)
        args: tuple[str, ...] = ()
        source = "env FLOE_ARTIFACTS"
    else:
        (pytester.path / "taken").write_text("a file where the directory should be")
        target, expected = str(pytester.path / "taken" / "artifacts"), "is not a writable directory"
        args, source = (f"--floe-artifacts={target}",), "--floe-artifacts"
    run = run_usage_error(pytester, NEEDS_POSTGRES, *args)
    assert_names(run, f"failure artifacts directory {target} (from {source}) cannot be "
                      "written", expected, "Name another directory")
    assert_no_cluster_work(pytester, run)


@pytest.mark.requirement("001-FR-053", "001-FR-041")
def test_traceability_report_where_no_file_can_be_created(pytester: pytest.Pytester) -> None:
    """Under /proc no file can be created, root or not (``os.access`` says yes to root)."""
    run = run_usage_error(pytester, "def test_plain():\n    assert True\n",
                          "--traceability-report=/proc/floe-report.json")
    assert_names(run, "--traceability-report /proc/floe-report.json cannot be written",
                 "choose another path")
    assert "passed" not in run.output


@pytest.mark.requirement("001-FR-053", "001-FR-041")
def test_traceability_report_that_cannot_be_written_at_the_end_says_why(
    pytester: pytest.Pytester
) -> None:
    """The directory was fine at start and is gone at the end: the summary says the report
    could not be written and why, instead of "report written to"."""
    out = pytester.path / "out"
    out.mkdir()
    pytester.makepyfile(test_plain=f"""
        import shutil

        def test_replaces_the_directory_with_a_file():
            shutil.rmtree({str(out)!r})
            open({str(out)!r}, "w").close()
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           f"--traceability-report={out / 'report.json'}",
                                           timeout=120)
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert f"FAILED: the traceability report could not be written to {out / 'report.json'}" \
        in output
    assert "report written to" not in output
    assert "Traceback" not in output


# -- 5-7, 18: manifests against a real (small) Kubernetes API server ------------------------


CORE_V1 = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
    "resources": [
        {"name": n, "singularName": "", "namespaced": ns, "kind": k,
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
        for n, ns, k in [("namespaces", False, "Namespace"), ("services", True, "Service"),
                         ("configmaps", True, "ConfigMap"), ("secrets", True, "Secret"),
                         ("pods", True, "Pod"),
                         ("persistentvolumeclaims", True, "PersistentVolumeClaim")]
    ],
}
APPS_V1 = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
    "resources": [
        {"name": n, "singularName": "", "namespaced": True, "kind": k,
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
        for n, k in [("deployments", "Deployment"), ("statefulsets", "StatefulSet"),
                     ("daemonsets", "DaemonSet")]
    ],
}
INVALID_DEPLOYMENT = (
    'Deployment.apps "x" is invalid: spec.template.metadata.labels: Invalid value: '
    'map[string]string{"app":"y"}: `selector` does not match template `labels`'
)


@dataclass
class FakeApiServer:
    """Kubernetes API as pykube sees it: ``/version``, discovery of core/v1 and apps/v1,
    GET (nothing exists), POST (created, except kinds in ``reject``), DELETE."""

    kubeconfig: Path
    reject: dict[str, tuple[int, str]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def calls(self, method: str) -> list[str]:
        return [path for m, path in self.requests if m == method]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[FakeApiServer]:
    state = FakeApiServer(kubeconfig=tmp_path / "fake-api-kubeconfig")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            state.requests.append(("GET", path))
            found = {"/version": {"major": "1", "minor": "20", "gitVersion": "v1.20.15"},
                     "/api/v1": CORE_V1, "/apis/apps/v1": APPS_V1}.get(path)
            if found is not None:
                self._reply(200, found)
            else:
                self._reply(404, _status(404, "NotFound",
                                         f"the server could not find the requested resource "
                                         f"({path})"))

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(("POST", self.path))
            if body.get("kind") in state.reject:
                code, message = state.reject[body["kind"]]
                self._reply(code, _status(code, "Invalid", message))
            else:
                self._reply(201, body)

        def do_DELETE(self) -> None:
            state.requests.append(("DELETE", self.path))
            self._reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

        def log_message(self, format: str, *args: object) -> None:
            pass

    with _serving(Handler) as port:
        _kubeconfig(state.kubeconfig, f"http://127.0.0.1:{port}", context="fake-api")
        yield state


def _manifests(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip())
    return directory


@pytest.mark.requirement("001-FR-053")
def test_manifests_directory_missing(
    pytester: pytest.Pytester, api_server: FakeApiServer
) -> None:
    missing = pytester.path / "no-manifests-here"
    run = run_usage_error(pytester, NEEDS_CLUSTER, "--kubeconfig", str(api_server.kubeconfig),
                          "--floe-manifests", str(missing))
    assert_names(run, f"Manifests directory {missing} does not exist", "--floe-manifests")
    assert run.seconds < 10, "a typo in a path must fail at once"
    assert api_server.calls("POST") == []
    assert api_server.calls("DELETE") == []


@pytest.mark.requirement("001-FR-053")
def test_manifest_yaml_syntax_error(pytester: pytest.Pytester, api_server: FakeApiServer) -> None:
    manifests = _manifests(pytester.path / "k8s", {
        "00-namespace.yaml": """
            apiVersion: v1
            kind: Namespace
            metadata: {name: fine}
        """,
        "web.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: first}
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
             namespace: default
        """,
    })
    run = run_failing(pytester, NEEDS_CLUSTER, "--kubeconfig", str(api_server.kubeconfig),
                      "--floe-manifests", str(manifests))
    assert_names(run, f"{manifests / 'web.yaml'}: line 9, column 2 YAML syntax error in "
                      "document 1")
    assert "00-namespace.yaml" not in run.block
    assert api_server.calls("POST") == [], "nothing is applied when a manifest is broken"


@pytest.mark.requirement("001-FR-053")
def test_manifest_missing_fields_direct(tmp_path: Path) -> None:
    """Parsing alone (no run): a document without ``kind`` names file and document index."""
    _manifests(tmp_path, {"app.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: ok}
        ---
        apiVersion: v1
        metadata: {name: kindless}
    """})
    with pytest.raises(ManifestError) as info:
        load_manifests(tmp_path)
    assert str(info.value) == f"{tmp_path / 'app.yaml'} (document 1): missing kind"


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize(
    ("api_version", "expected"),
    [("v1", "the API server does not serve kind 'Bogus' in 'v1'"),
     ("bogus.example.com/v1", "the API server does not serve apiVersion 'bogus.example.com/v1'")],
    ids=["unknown-kind", "unknown-api-version"],
)
def test_manifest_unknown_kind(
    pytester: pytest.Pytester, api_server: FakeApiServer, api_version: str, expected: str
) -> None:
    manifests = _manifests(pytester.path / "k8s", {"extras.yaml": f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: settings, namespace: default}}
        ---
        apiVersion: {api_version}
        kind: Bogus
        metadata: {{name: strange, namespace: default}}
    """})
    run = run_failing(pytester, NEEDS_CLUSTER, "--kubeconfig", str(api_server.kubeconfig),
                      "--floe-manifests", str(manifests))
    assert_names(run, f"{manifests / 'extras.yaml'} (document 1) Bogus/strange", expected)
    # the ConfigMap applied before the failure is removed again at the end of the run
    assert api_server.calls("POST") == ["/api/v1/namespaces/default/configmaps"]
    assert api_server.calls("DELETE") == ["/api/v1/namespaces/default/configmaps/settings"]
    assert "delete 1 objects created by this run" in run.output


@pytest.mark.requirement("001-FR-053")
def test_manifest_rejected_by_the_api_server(
    pytester: pytest.Pytester, api_server: FakeApiServer
) -> None:
    api_server.reject["Deployment"] = (422, INVALID_DEPLOYMENT)
    manifests = _manifests(pytester.path / "k8s", {"web.yaml": """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec:
          selector: {app: web}
          ports: [{port: 80}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: x, namespace: default}
        spec:
          selector: {matchLabels: {app: x}}
          template:
            metadata: {labels: {app: y}}
            spec:
              containers: [{name: web, image: "nginx:1.27"}]
    """})
    run = run_failing(pytester, NEEDS_WEB_SERVICE, "--kubeconfig", str(api_server.kubeconfig),
                      "--floe-manifests", str(manifests))
    assert_names(run, "Required service web:80 (namespace default) is not available",
                 f"{manifests / 'web.yaml'} (document 1) Deployment/x",
                 "rejected by the API server (HTTP 422)", INVALID_DEPLOYMENT)
    assert api_server.calls("POST") == ["/api/v1/namespaces/default/services",
                                        "/apis/apps/v1/namespaces/default/deployments"]
    assert api_server.calls("DELETE") == ["/api/v1/namespaces/default/services/web"]
    assert TOKEN not in run.output


@pytest.mark.requirement("001-FR-053")
def test_manifests_defining_one_object_twice(
    pytester: pytest.Pytester, api_server: FakeApiServer
) -> None:
    """The last would silently win and its workload be awaited twice: both documents are
    named before anything is applied."""
    manifests = _manifests(pytester.path / "k8s", {
        "web.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings, namespace: default}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec: {selector: {app: web}, ports: [{port: 80}]}
        """,
        "zz-copy.yaml": """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec: {selector: {app: other}, ports: [{port: 80}]}
        """,
    })
    run = run_failing(pytester, NEEDS_CLUSTER, "--kubeconfig", str(api_server.kubeconfig),
                      "--floe-manifests", str(manifests))
    assert_names(run, f"{manifests / 'web.yaml'} (document 1) and "
                      f"{manifests / 'zz-copy.yaml'} (document 0) both define Service/web in "
                      "namespace default", "--floe-extra-manifests")
    assert api_server.calls("POST") == [], "nothing is applied when manifests disagree"


# -- 14: port-forward refused --------------------------------------------------------------


@pytest.mark.requirement("001-FR-053", "001-FR-009")
def test_port_forward_refused_names_target_and_kubectl_message(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """kubectl (a script printing kubectl's real error) refuses the forward: the error names
    the target and carries kubectl's words, and no kubectl process or thread is left."""
    forward = PortForward(sandbox.kubectl, tmp_path / "kubeconfig", "floe-test",
                          "svc/postgres", 5432)
    with pytest.raises(PortForwardError) as info:
        forward.start(timeout=3)
    message = str(info.value)
    assert "svc/postgres" in message
    assert "floe-test" in message
    assert "exited with code 1" in message
    assert KUBECTL_FORWARD_ERROR in message
    assert len(message.splitlines()) < MAX_BLOCK_LINES
    assert forward._proc is not None
    assert forward._proc.poll() is not None, "kubectl left running"
    assert forward._thread is not None
    assert not forward._thread.is_alive()
    assert forward.local_port is None
    calls = (sandbox.bin_dir / "kubectl.calls").read_text().splitlines()
    assert calls == [f"--kubeconfig {tmp_path / 'kubeconfig'} --namespace floe-test "
                     "port-forward --address 127.0.0.1 svc/postgres :5432"], calls


# -- helpers ---------------------------------------------------------------------------------


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 for the duration of a ``with`` block."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        return int(self.server.server_address[1])

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> _Server:
    return _Server(handler)
