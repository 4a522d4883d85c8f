"""Security properties: secrets never reach any output (001-FR-026), and the plugin's own attack
surface stays small: owner-only kubeconfig, loopback-only forwards, verified http(s)
downloads, no shell, secrets typed as ``SecretStr``.

The leak test runs the plugin for real against local stand-ins: a PostgreSQL wire-protocol
server that accepts the password and then refuses every query, an S3 endpoint that answers
403, and closed ports, under every pytest option that prints more (``-l``, ``-vv``,
``--fulltrace``, ``--fixtures-per-test``), and searches every byte written.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import http.server
import socket
import stat
import struct
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from pydantic import SecretStr

import floe_testing
from floe_testing.cluster.kind_binary import download_verified
from floe_testing.cluster.kubeconfig import restrict_permissions
from floe_testing.cluster.port_forward import PortForward
from floe_testing.errors import ConfigError, InfrastructureError
from floe_testing.services.minio.config import MinIOConfig
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.postgres.config import PostgresConfig
from floe_testing.services.settings import ServiceSettings
from support.http_server import QuietHandler, serving

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("clean_service_env")]

# Distinctive values, with characters that URL- and form-encoding change.
PG_PASSWORD = "Pg-pw+s3cr3t/=&%7E-4f1a"
S3_SECRET = "S3-key+s3cr3t/=&-9b2c"
POLARIS_ID = "floe-client-5d3e"
POLARIS_SECRET = "Polaris s3cr3t&=+/-7a8b"
SECRETS = {"POSTGRES_PASSWORD": PG_PASSWORD, "MINIO_SECRET_KEY": S3_SECRET,
           "POLARIS_CREDENTIAL": f"{POLARIS_ID}:{POLARIS_SECRET}"}


def _forms(secret: str) -> set[str]:
    """The secret as it could show up: raw, URL/form-encoded, base64 (also after a user)."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
             base64.b64encode(raw).decode().rstrip("=")}
    for user in ("test", "minioadmin", POLARIS_ID):
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return forms


LEAK_FORMS = {form: name for name, value in SECRETS.items() for form in _forms(value)} | {
    form: "POLARIS_CREDENTIAL (secret part)" for form in _forms(POLARIS_SECRET)}


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every service below comes from env endpoints; make sure no run could pick a cluster."""
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KIND_PATH"):
        monkeypatch.delenv(name, raising=False)


def assert_no_secret(data: bytes, where: str) -> None:
    for form, name in LEAK_FORMS.items():
        assert form.encode() not in data, f"{name} leaked as {form!r} in {where}"


@pytest.mark.requirement("001-FR-026")
def test_leak_check_finds_each_form() -> None:
    """The checker itself works: each secret, raw or encoded, is found."""
    for secret in (PG_PASSWORD, S3_SECRET, POLARIS_SECRET):
        for form in _forms(secret):
            with pytest.raises(AssertionError, match="leaked"):
                assert_no_secret(f"x {form} y".encode(), "sample")


# -- local stand-ins for the services --------------------------------------------------------


def _message(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("!i", len(payload) + 4) + payload


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


@dataclass
class FakePostgres:
    """PostgreSQL's wire protocol, enough for libpq: asks for the password (cleartext, so the
    test can see the secret really was in play), accepts it, then refuses every query with
    the error a role without CREATEDB gets."""

    port: int = 0
    passwords: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                while True:
                    length, code = struct.unpack("!ii", _recv_exact(conn, 8))
                    if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: no
                        conn.sendall(b"N")
                        continue
                    _recv_exact(conn, length - 8)  # startup parameters
                    break
                conn.sendall(_message(b"R", struct.pack("!i", 3)))  # cleartext password
                tag, body = self._read(conn)
                assert tag == b"p"
                self.passwords.append(body.rstrip(b"\0").decode())
                reply = _message(b"R", struct.pack("!i", 0))
                for key, value in (("server_version", "15.6"), ("client_encoding", "UTF8"),
                                   ("DateStyle", "ISO, MDY"), ("integer_datetimes", "on"),
                                   ("standard_conforming_strings", "on")):
                    reply += _message(b"S", f"{key}\0{value}\0".encode())
                reply += _message(b"K", struct.pack("!ii", 4242, 2424))
                conn.sendall(reply + _message(b"Z", b"I"))
                while True:
                    tag, body = self._read(conn)
                    if tag == b"X":
                        return
                    if tag == b"Q":
                        self.queries.append(body.rstrip(b"\0").decode())
                        error = (b"SERROR\0VERROR\0C42501\0"
                                 b"Mpermission denied to create database\0\0")
                        conn.sendall(_message(b"E", error) + _message(b"Z", b"I"))
            except (ConnectionError, OSError):
                return

    @staticmethod
    def _read(conn: socket.socket) -> tuple[bytes, bytes]:
        tag = _recv_exact(conn, 1)
        (length,) = struct.unpack("!i", _recv_exact(conn, 4))
        return tag, _recv_exact(conn, length - 4)


@pytest.fixture
def fake_postgres() -> Iterator[FakePostgres]:
    state = FakePostgres()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    state.port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=state.serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        with contextlib.suppress(OSError):  # wakes accept() on Linux
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=10)


@dataclass
class FakeS3:
    port: int = 0
    authorizations: list[str] = field(default_factory=list)


@pytest.fixture
def fake_s3() -> Iterator[FakeS3]:
    """An S3 endpoint that checks nothing and answers every request with 403."""
    state = FakeS3()
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>'
            b"<Message>The request signature we calculated does not match the signature you "
            b"provided.</Message><RequestId>1</RequestId></Error>")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _deny(self) -> None:
            state.authorizations.append(self.headers.get("Authorization", ""))
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _deny

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


TOKEN = "kube-t0ken-S3CR3T-1c2d"


def _kubeconfig_with_token(path: Path, server: str) -> Path:
    path.write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        clusters: [{{name: c, cluster: {{server: "{server}", insecure-skip-tls-verify: true}}}}]
        users: [{{name: u, user: {{token: {TOKEN}}}}}]
        contexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]
        current-context: ctx
        """))
    return path


# -- the leak test -------------------------------------------------------------------------

SERVICE_TESTS = """
    import logging

    def test_postgres(postgres_connection):
        raise AssertionError("must not be reached")

    def test_minio(minio_client):
        raise AssertionError("must not be reached")

    def test_polaris(polaris_catalog):
        raise AssertionError("must not be reached")

    def test_duckdb(duckdb_connection):
        raise AssertionError("must not be reached")

    def test_configs_printed(postgres_config, minio_config, polaris_config):
        configs = [postgres_config, minio_config, polaris_config]
        dumps = [c.model_dump() for c in configs]
        json_dumps = [c.model_dump_json() for c in configs]
        print("configs:", configs, [str(c) for c in configs], dumps, json_dumps)
        logging.getLogger("user").error("configs %r %s", configs, json_dumps)
        assert configs == dumps
"""

FLAG_SETS = {
    "showlocals-long": ("-l", "--tb=long"),
    "showlocals-vv": ("--showlocals", "-vv"),
    "fulltrace-showlocals": ("--fulltrace", "-l", "-vv"),
    "fixtures-per-test": ("--fixtures-per-test", "-vv"),
}


def _run_and_scan(pytester: pytest.Pytester, flags: tuple[str, ...]) -> str:
    pytester.makepyfile(test_leak=SERVICE_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *flags, timeout=120)
    raw = b""
    for stream in ("stdout", "stderr"):  # what pytester's subprocess wrote, byte for byte
        raw += (pytester.path / stream).read_bytes()
    assert raw, "no output captured"
    assert_no_secret(raw, f"pytest {' '.join(flags)}")
    output = raw.decode(errors="replace")
    if "--fixtures-per-test" not in flags:
        assert result.ret == pytest.ExitCode.TESTS_FAILED, output
        assert "must not be reached" not in output, output
        assert "passed" not in result.outlines[-1], output
    return output


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize("flags", list(FLAG_SETS.values()), ids=list(FLAG_SETS))
def test_no_secret_in_any_output_when_services_fail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fake_postgres: FakePostgres,
    fake_s3: FakeS3, closed_port: int, flags: tuple[str, ...],
) -> None:
    """Valid settings, failing services: PostgreSQL takes the password then refuses to create
    a database, S3 answers 403, the catalog and DuckDB cannot be reached or opened."""
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PORT", str(fake_postgres.port))
    monkeypatch.setenv("MINIO_ENDPOINT", f"http://127.0.0.1:{fake_s3.port}")
    monkeypatch.setenv("POLARIS_URI", f"http://127.0.0.1:{closed_port}/api/catalog")
    monkeypatch.setenv("DUCKDB_DATABASE", str(pytester.path / "missing" / "db.duckdb"))
    monkeypatch.setenv("DUCKDB_READ_ONLY", "true")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)

    output = _run_and_scan(pytester, flags)

    if "--fixtures-per-test" in flags:
        assert "postgres_connection" in output
        return
    # the secrets were really in play: the server got the password, S3 a signed request
    assert fake_postgres.passwords
    assert set(fake_postgres.passwords) == {PG_PASSWORD}
    assert fake_postgres.queries, "no query reached the server"
    assert fake_s3.authorizations
    assert all(
        a.startswith("AWS4-HMAC-SHA256 Credential=minioadmin/") for a in fake_s3.authorizations)
    assert "SecretStr('**********')" in output  # the printed configs, masked
    if "-l" in flags or "--showlocals" in flags:
        # psycopg2 masks the password of a live connection shown among the locals
        assert "password=xxx" in output, output


@pytest.mark.requirement("001-FR-026", "001-FR-053")
@pytest.mark.parametrize("flags", [FLAG_SETS["fulltrace-showlocals"], ("--tb=long", "-s")],
                         ids=["fulltrace-showlocals", "long-nocapture"])
def test_no_secret_in_any_output_when_settings_are_bad(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...]
) -> None:
    """Bad port, bad URLs, invalid DuckDB mode: errors name the variables, never the secrets."""
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PORT", "not-a-port")
    monkeypatch.setenv("MINIO_ENDPOINT", "not a url")
    monkeypatch.setenv("POLARIS_URI", "ftp//x")
    monkeypatch.setenv("DUCKDB_READ_ONLY", "true")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)

    output = _run_and_scan(pytester, flags)

    for culprit in ("POSTGRES_PORT", "MINIO_ENDPOINT", "POLARIS_URI", "DUCKDB_READ_ONLY"):
        assert culprit in output


@pytest.mark.requirement("001-FR-026")
def test_secret_never_passed_to_a_shown_local(closed_port: int) -> None:
    """Regression: ``connect`` once kept the password in a ``params`` dict that
    ``--fulltrace -l`` printed; the refusal message names the variables, not the value."""
    from floe_testing.services.postgres.helper import connect

    config = PostgresConfig(host="127.0.0.1", port=closed_port, password=PG_PASSWORD)
    with pytest.raises(InfrastructureError) as info:
        connect(config)
    tb = info.getrepr(style="long", showlocals=True, chain=True, truncate_locals=False)
    assert_no_secret(str(tb).encode(), "connect() traceback with locals")
    assert "POSTGRES_PASSWORD" in str(info.value)


# -- configuration models ------------------------------------------------------------------

SECRET_WORDS = ("password", "secret", "credential", "token")


def _config_classes() -> list[type[ServiceSettings]]:
    from floe_testing.services import builtin_services
    from floe_testing.services.configs import config_class

    return [config_class(service) for service in builtin_services()]


@pytest.mark.requirement("001-FR-026")
def test_every_secret_field_is_secretstr() -> None:
    found = set()
    for cls in _config_classes():
        for name, info in cls.model_fields.items():
            if any(word in name for word in SECRET_WORDS):
                assert info.annotation in (SecretStr, SecretStr | None), f"{cls.__name__}.{name}"
                found.add(f"{cls.__name__}.{name}")
    assert found == {"PostgresConfig.password", "MinIOConfig.secret_key",
                     "PolarisConfig.credential"}


@pytest.mark.requirement("001-FR-026")
def test_the_specs_name_exactly_the_configs_secret_fields() -> None:
    """Env secrets are masked from the run's first line on by the names the declarations give
    (no pydantic import on every run): they must be the configs' SecretStr fields."""
    from floe_testing.services import builtin_services
    from floe_testing.services.configs import config_class

    for service in builtin_services():
        cls = config_class(service)
        secret = {name for name, info in cls.model_fields.items()
                  if info.annotation in (SecretStr, SecretStr | None)}
        assert set(service.secret_fields) == secret, service.name
        assert {cls.env_var(name) for name in secret} == set(service.secret_env_vars), \
            service.name


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize(
    ("cls", "field_name", "value"),
    [(PostgresConfig, "password", PG_PASSWORD), (MinIOConfig, "secret_key", S3_SECRET),
     (PolarisConfig, "credential", f"{POLARIS_ID}:{POLARIS_SECRET}")],
)
def test_secret_fields_are_masked_in_every_rendering(
    cls: type[ServiceSettings], field_name: str, value: str
) -> None:
    config = cls(**{field_name: value})
    renderings = [repr(config), str(config), f"{config}", str(config.model_dump()),
                  config.model_dump_json(), repr(config.model_dump(mode="json"))]
    for text in renderings:
        assert_no_secret(text.encode(), f"{cls.__name__} rendering {text[:40]!r}")
    assert getattr(config, field_name).get_secret_value() == value


# -- cluster side ------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-026")
def test_kubeconfig_written_for_kind_is_owner_only(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    kubeconfig.chmod(0o644)
    restrict_permissions(kubeconfig)
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    kubeconfig.chmod(0o400)  # already private: left alone
    restrict_permissions(kubeconfig)
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o400
    restrict_permissions(tmp_path / "absent")  # nothing to do, no error


@pytest.mark.requirement("001-FR-026")
def test_port_forwards_bind_loopback_only(tmp_path: Path) -> None:
    forward = PortForward(tmp_path / "kubectl", tmp_path / "kubeconfig", "floe-test",
                          "svc/postgres", 5432)
    command = forward.command()
    addresses = [command[i + 1] for i, arg in enumerate(command) if arg == "--address"]
    assert addresses == ["127.0.0.1"], command
    assert not any("0.0.0.0" in arg for arg in command), command
    assert command[-1] == ":5432"


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/kind",
                                 "/etc/passwd"])
def test_kind_download_refuses_non_http_urls(tmp_path: Path, url: str) -> None:
    target = tmp_path / "cache" / "kind"
    with pytest.raises(ConfigError, match="must be http"):
        download_verified(url, "0" * 64, target, attempts=3)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []


# -- source scan ---------------------------------------------------------------------------

SHELL_CALLS = {("os", "system"), ("os", "popen"), ("os", "popen2"), ("os", "spawnl"),
               ("subprocess", "getoutput"), ("subprocess", "getstatusoutput")}


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                              and kw.value.value is False):
                    found.append(f"{where}: shell={ast.unparse(kw.value)}")
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (
                    func.value.id, func.attr) in SHELL_CALLS:
                found.append(f"{where}: {func.value.id}.{func.attr}()")
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "subprocess"):
            for alias in node.names:
                if (node.module, alias.name) in SHELL_CALLS:
                    found.append(f"{where}: from {node.module} import {alias.name}")
    return found


@pytest.mark.requirement("001-FR-026")
def test_source_never_uses_a_shell() -> None:
    package = Path(floe_testing.__file__).parent
    files = sorted(package.rglob("*.py"))
    assert len(files) > 20, files
    problems = [p for path in files for p in _problems(path)]
    assert problems == []


@pytest.mark.requirement("001-FR-026")
def test_source_scan_catches_shell_use(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import os, subprocess\nfrom os import popen\n"
                      "subprocess.run('ls', shell=True)\nsubprocess.run(['ls'], shell=False)\n"
                      "flag = True\nsubprocess.Popen('ls', shell=flag)\nos.system('ls')\n")
    problems = _problems(sample)
    assert sorted(p.split(": ", 1)[1] for p in problems) == [
        "from os import popen", "os.system()", "shell=True", "shell=flag"], problems



# -- every channel: reports, junit XML, traceability report, logs; our fixtures and overrides --


@pytest.fixture
def fake_catalog() -> Iterator[int]:
    """An Iceberg REST catalog that hands out one token, then answers 401 to everything (the
    token refresh included): pyiceberg fails inside the plugin's own fixtures with the
    credential among its locals."""
    issued: list[str] = []

    class Handler(QuietHandler):
        def _reply(self, code: int, body: bytes) -> None:
            self.reply(code, body, "application/json")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.endswith("/oauth/tokens") and not issued:
                issued.append("t")
                self._reply(200, b'{"access_token": "tok-1", "token_type": "bearer", '
                                 b'"expires_in": 3600}')
            else:
                self._reply(401, b'{"error": "unauthorized_client"}')

        def do_GET(self) -> None:
            if "/v1/config" in self.path:
                self._reply(200, b'{"defaults": {}, "overrides": {}}')
            else:
                self._reply(401, b'{"error": {"message": "Not authorized", "type": '
                                 b'"NotAuthorizedException", "code": 401}}')

    with serving(Handler) as port:
        yield port


OVERRIDE_CONFTEST = """
    import os

    import pytest

    from floe_testing import PostgresConfig


    @pytest.fixture(scope="session")
    def postgres_config():
        # a user's override with one bad field; the password comes from the user's own variable
        return PostgresConfig(host="127.0.0.1", port="not-a-port",
                              password=os.environ["MY_DB_PASSWORD"])
"""

CHANNEL_CONFTEST = """
    import logging
    import os

    import pytest


    @pytest.fixture(autouse=True)
    def chatty():
        logging.getLogger("user").debug("s3 key %s", os.environ["MINIO_SECRET_KEY"])
        logging.getLogger("user").debug("catalog credential %s",
                                        os.environ["POLARIS_CREDENTIAL"])
        yield
"""

CHANNEL_TESTS = """
    import os

    import pytest


    def test_postgres(postgres_connection):
        raise AssertionError("must not be reached")

    def test_bucket(minio_bucket):
        raise AssertionError("must not be reached")

    def test_catalog(polaris_catalog):
        raise AssertionError("must not be reached")

    def test_cluster(floe_cluster):
        raise AssertionError("must not be reached")

    @pytest.mark.requirement("001-FR-026")
    def test_fails_with_a_secret_in_its_message():
        assert os.environ["MINIO_SECRET_KEY"] == "something else"
"""

CHANNEL_FLAGS = {
    "long-showlocals": ("--tb=long", "-l"),
    "short": ("--tb=short",),
    "native-showlocals": ("--tb=native", "-l"),
    "fulltrace-showlocals-vv": ("--full-trace", "-l", "-vv"),
}


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize("flags", list(CHANNEL_FLAGS.values()), ids=list(CHANNEL_FLAGS))
def test_no_secret_on_any_channel(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fake_postgres: FakePostgres,
    fake_s3: FakeS3, fake_catalog: int, closed_port: int, flags: tuple[str, ...],
) -> None:
    """Terminal, --junitxml, --traceability-report, --log-file and live logs at DEBUG, for
    failures inside the plugin's fixtures (a catalog refusing the token refresh, S3 errors
    creating a bucket), inside a user's ``postgres_config`` override, and in a test's own
    assertion: every byte written is searched for every form of every secret."""
    monkeypatch.setenv("MY_DB_PASSWORD", PG_PASSWORD)
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PORT", str(fake_postgres.port))
    monkeypatch.setenv("POSTGRES_PASSWORD", PG_PASSWORD)
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig_with_token(
        pytester.path / "kubeconfig", f"https://127.0.0.1:{closed_port}")))
    monkeypatch.setenv("MINIO_ENDPOINT", f"http://127.0.0.1:{fake_s3.port}")
    monkeypatch.setenv("MINIO_SECRET_KEY", S3_SECRET)
    monkeypatch.setenv("POLARIS_URI", f"http://127.0.0.1:{fake_catalog}/api/catalog")
    monkeypatch.setenv("POLARIS_CREDENTIAL", f"{POLARIS_ID}:{POLARIS_SECRET}")
    pytester.makeconftest(textwrap.dedent(CHANNEL_CONFTEST))
    pytester.makepyfile(test_channels=textwrap.dedent(CHANNEL_TESTS))
    override = pytester.mkdir("override")
    (override / "conftest.py").write_text(textwrap.dedent(OVERRIDE_CONFTEST))
    (override / "test_override.py").write_text(
        "def test_override(postgres_connection):\n    raise AssertionError('must not be "
        "reached')\n")
    junit, trace, log = (pytester.path / n for n in ("junit.xml", "trace.json", "run.log"))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rA", *flags, f"--junitxml={junit}",
        f"--traceability-report={trace}", f"--log-file={log}", "--log-file-level=DEBUG",
        "--log-level=DEBUG", "--log-cli-level=DEBUG", timeout=120)
    written = {"stdout": (pytester.path / "stdout").read_bytes(),
               "stderr": (pytester.path / "stderr").read_bytes()}
    for path in (junit, trace, log):
        assert path.is_file(), f"{path.name} was not written"
        written[path.name] = path.read_bytes()
    for where, data in written.items():
        assert_no_secret(data, f"{where} of pytest {' '.join(flags)}")
    output = written["stdout"].decode(errors="replace")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 6, output
    assert "must not be reached" not in output
    assert "POSTGRES_PORT" in output or "port" in output  # the override's culprit is named
    assert fake_s3.authorizations, "S3 was never asked: the secret was not in play"
    assert fake_postgres.passwords == [PG_PASSWORD] * len(fake_postgres.passwords) != []
    assert TOKEN not in output
    assert b"***" in written["stdout"] + written["run.log"]  # masked, not just absent


@pytest.mark.requirement("001-FR-026")
def test_redaction_masks_secrets_not_names() -> None:
    """Only values that are secret are masked: a Secret's user and catalog names stay
    readable (masking "test" would garble every report), its password does not."""
    from floe_testing.redaction import SecretValues

    values = SecretValues()
    values.add_secret_data({"POSTGRES_USER": "test", "POSTGRES_DB": "test",
                            "POSTGRES_PASSWORD": PG_PASSWORD, "POLARIS_CLIENT_ID": "root",
                            "POLARIS_CLIENT_SECRET": POLARIS_SECRET,
                            "POLARIS_WAREHOUSE": "test_warehouse"})
    text = (f"test_x failed for user test in test_warehouse as root: {PG_PASSWORD} "
            f"{quote_plus(POLARIS_SECRET)} {base64.b64encode(PG_PASSWORD.encode()).decode()}")
    redacted = values.redact(text)
    assert redacted.startswith("test_x failed for user test in test_warehouse as root: ")
    assert_no_secret(redacted.encode(), "the redacted text")
    assert redacted.count("***") == 3


class _RefusingCatalog(QuietHandler):
    """A catalog that issues tokens and its config, then answers 401 to every catalog call."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, b'{"access_token": "tok", "token_type": "bearer", "expires_in": 3600}',
                   "application/json")

    def do_GET(self) -> None:
        if "/v1/config" in self.path:
            self.reply(200, b'{"defaults": {}, "overrides": {}}', "application/json")
        else:
            self.reply(401, b'{"error": {"message": "Not authorized", "type": '
                            b'"NotAuthorizedException", "code": 401}}', "application/json")


@pytest.mark.requirement("001-FR-053")
def test_a_catalog_that_refuses_after_the_token_is_one_screen_in_the_sweep(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The catalog hands out a token, then answers 401: the fixture's leftover sweep fails the
    test with one screen naming what it was asked and where, not pyiceberg's frames."""
    with serving(_RefusingCatalog) as port:
        monkeypatch.setenv("POLARIS_URI", f"http://127.0.0.1:{port}/api/catalog")
        monkeypatch.setenv("POLARIS_CREDENTIAL", f"{POLARIS_ID}:{POLARIS_SECRET}")
        pytester.makepyfile(test_cat="def test_cat(polaris_catalog):\n    pass\n")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "Polaris (asked to list the namespaces (leftover sweep)) at " in output, output
    assert "address from env POLARIS_URI" in output
    assert "Traceback" not in output
    assert "site-packages/pyiceberg" not in output
    assert POLARIS_SECRET not in output
