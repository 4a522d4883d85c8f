"""001-FR-027: the Polaris bootstrap (catalog, catalog role, grant, assignment) and its Job.

The bootstrap runs against a real local ``http.server`` that replays request/response pairs
recorded from Polaris' published API specs (``recordings/polaris_management.json``): every
request's method, path, headers and body must match the recording, in order, or the server
answers 400 and the test fails naming the difference.
"""

from __future__ import annotations

import ast
import json
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_testing.stack import PACKAGED_MANIFESTS
from floe_testing.stack import polaris_bootstrap as pb

pytestmark = pytest.mark.requirement("001-FR-027")

REPO = Path(__file__).resolve().parents[2]
RECORDINGS = json.loads(
    (Path(__file__).parent / "recordings" / "polaris_management.json").read_text()
)
EXCHANGES: dict[str, dict[str, Any]] = RECORDINGS["exchanges"]
RECORDED = RECORDINGS["settings"]
FRESH = ["health_up", "token", "create_catalog", "create_catalog_role", "grant", "assign"]
RERUN = ["health_up", "token", "create_catalog_exists", "create_catalog_role_exists", "grant",
         "assign"]


def exchange(name: str) -> dict[str, Any]:
    """A recorded exchange, with ``same_as`` requests resolved."""
    found = EXCHANGES[name]
    request = found["request"]
    if "same_as" in request:
        request = EXCHANGES[request["same_as"]]["request"]
    return {"name": name, "request": request, "response": found["response"]}


class RecordedPolaris:
    """A local HTTP server answering the recorded exchanges in order, checking each request."""

    def __init__(self, names: list[str]) -> None:
        self.pending = [exchange(n) for n in names]
        self.problems: list[str] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                recorder.serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> RecordedPolaris:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self.lock:
            if not self.pending:
                self.problems.append(f"unexpected {handler.command} {handler.path}: no "
                                     "recorded exchange left")
                self._reply(handler, 500, {"error": {"message": "no exchange left",
                                                     "type": "RecordingMismatch", "code": 500}})
                return
            current = self.pending.pop(0)
            mismatch = self._mismatch(current["request"], handler, raw)
            if mismatch:
                self.problems.append(f"{current['name']}: {mismatch}")
                self._reply(handler, 400, {"error": {"message": mismatch,
                                                     "type": "RecordingMismatch", "code": 400}})
                return
        self._reply(handler, current["response"]["status"], current["response"]["body"])

    @staticmethod
    def _mismatch(expected: dict[str, Any], handler: BaseHTTPRequestHandler,
                  raw: bytes) -> str | None:
        if handler.command != expected["method"] or handler.path != expected["path"]:
            return (f"expected {expected['method']} {expected['path']}, got "
                    f"{handler.command} {handler.path}")
        for name, value in expected.get("headers", {}).items():
            got = handler.headers.get(name)
            if got is None or got.split(";")[0].strip() != value:
                return f"header {name}: expected {value!r}, got {got!r}"
        if "json" in expected:
            try:
                body = json.loads(raw)
            except ValueError:
                return f"body is not JSON: {raw[:200]!r}"
            if body != expected["json"]:
                return f"JSON body differs: expected {expected['json']}, got {body}"
        elif "form" in expected:
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            if form != expected["form"]:
                return f"form body differs: expected {expected['form']}, got {form}"
        elif raw:
            return f"unexpected body {raw[:200]!r}"
        return None

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        if data:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def assert_all_served(self) -> None:
        assert not self.problems, "requests differing from the recordings:\n" + "\n".join(
            self.problems)
        assert not self.pending, "recorded exchanges never requested: " + ", ".join(
            e["name"] for e in self.pending)


def settings_for(url: str, **changes: Any) -> pb.BootstrapSettings:
    values: dict[str, Any] = {
        "api_url": url, "health_url": url + "/q/health/ready",
        "client_id": RECORDED["client_id"], "client_secret": RECORDED["client_secret"],
        "catalog": RECORDED["catalog"], "bucket": RECORDED["bucket"],
        "s3_endpoint": RECORDED["s3_endpoint"], "realm": RECORDED["realm"],
        "s3_region": RECORDED["s3_region"], "catalog_role": RECORDED["catalog_role"],
        "principal_role": RECORDED["principal_role"], "ready_interval": 0.0,
        "ready_timeout": 30.0,
    }
    values.update(changes)
    return pb.BootstrapSettings(**values)


def no_pause(seconds: float) -> None:
    """Injected instead of the real wait between readiness polls: tests never wait."""


def test_fresh_polaris_gets_catalog_role_grant_and_assignment() -> None:
    lines: list[str] = []
    with RecordedPolaris(FRESH) as polaris:
        outcomes = pb.bootstrap(settings_for(polaris.url), log=lines.append, pause=no_pause)
    polaris.assert_all_served()
    assert outcomes == {"catalog": pb.DONE, "catalog role": pb.DONE, "grant": pb.DONE,
                        "assignment": pb.DONE}
    assert any("recorded_catalog: created" in line for line in lines)
    assert not any(RECORDED["client_secret"] in line for line in lines)


def test_rerun_against_a_bootstrapped_polaris_changes_nothing() -> None:
    with RecordedPolaris(RERUN) as polaris:
        outcomes = pb.bootstrap(settings_for(polaris.url), log=lambda _: None, pause=no_pause)
    polaris.assert_all_served()
    assert outcomes["catalog"] == pb.ALREADY
    assert outcomes["catalog role"] == pb.ALREADY


def test_waits_until_polaris_reports_ready() -> None:
    names = ["health_down", "health_down", "health_up", *FRESH]
    with RecordedPolaris(names) as polaris:
        attempts = pb.wait_until_ready(polaris.url + "/q/health/ready", timeout=30,
                                       interval=0.0, pause=no_pause)
        assert attempts == 3
        # the rest of the recording: the bootstrap itself, readiness now immediate
        pb.bootstrap(settings_for(polaris.url), log=lambda _: None, pause=no_pause)
    polaris.assert_all_served()


def test_readiness_timeout_names_the_url_and_the_last_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ticks = iter([0.0, 1.0, 2.0, 99.0])
    url = f"http://127.0.0.1:{port}/q/health/ready"
    with pytest.raises(pb.BootstrapError) as info:
        pb.wait_until_ready(url, timeout=10, interval=0.0, clock=lambda: next(ticks),
                            pause=no_pause)
    message = str(info.value)
    assert url in message
    assert "3 attempts" in message
    assert "Connection" in message or "refused" in message.lower()


def test_a_refused_step_names_the_step_status_and_polaris_message() -> None:
    with RecordedPolaris(["health_up", "token", "create_catalog_forbidden"]) as polaris, \
            pytest.raises(pb.BootstrapError) as info:
        pb.bootstrap(settings_for(polaris.url), log=lambda _: None, pause=no_pause)
    polaris.assert_all_served()
    message = str(info.value)
    assert "catalog recorded_catalog" in message
    assert "HTTP 403" in message
    assert "ForbiddenException" in message
    assert "CREATE_CATALOG" in message


def test_rejected_credentials_are_reported_without_the_secret() -> None:
    with RecordedPolaris(["health_up", "token_unauthorized"]) as polaris, \
            pytest.raises(pb.BootstrapError) as info:
        pb.bootstrap(settings_for(polaris.url), log=lambda _: None, pause=no_pause)
    polaris.assert_all_served()
    message = str(info.value)
    assert "HTTP 401" in message
    assert "not authorized" in message
    assert pb.ENV_CLIENT_ID in message
    assert pb.ENV_CLIENT_SECRET in message
    assert RECORDED["client_secret"] not in message


def test_management_calls_need_a_token_first() -> None:
    admin = pb.PolarisAdmin("http://127.0.0.1:9", "POLARIS")
    with pytest.raises(pb.BootstrapError, match="no token"):
        admin.create_catalog_role("c", "r")


def job_env(url: str) -> dict[str, str]:
    return {
        pb.ENV_API_URL: url, pb.ENV_HEALTH_URL: url + "/q/health/ready",
        pb.ENV_CLIENT_ID: RECORDED["client_id"], pb.ENV_CLIENT_SECRET: RECORDED["client_secret"],
        pb.ENV_CATALOG: RECORDED["catalog"], pb.ENV_BUCKET: RECORDED["bucket"],
        pb.ENV_S3_ENDPOINT: RECORDED["s3_endpoint"], pb.ENV_REALM: RECORDED["realm"],
    }


def test_main_bootstraps_from_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    with RecordedPolaris(FRESH) as polaris:
        assert pb.main([], env=job_env(polaris.url)) == 0
    polaris.assert_all_served()
    out = capsys.readouterr().out
    assert "polaris bootstrap complete" in out
    assert RECORDED["client_secret"] not in out


def test_main_names_every_missing_variable(capsys: pytest.CaptureFixture[str]) -> None:
    env = job_env("http://127.0.0.1:9")
    del env[pb.ENV_CLIENT_SECRET], env[pb.ENV_CATALOG]
    assert pb.main([], env=env) == 1
    err = capsys.readouterr().err
    assert pb.ENV_CLIENT_SECRET in err
    assert pb.ENV_CATALOG in err


def test_settings_hide_the_secret_and_reject_a_bad_timeout() -> None:
    env = job_env("http://polaris:8181")
    settings = pb.BootstrapSettings.from_env(env)
    assert RECORDED["client_secret"] not in repr(settings)
    assert settings.catalog == RECORDED["catalog"]
    with pytest.raises(pb.BootstrapError, match=pb.ENV_READY_TIMEOUT):
        pb.BootstrapSettings.from_env({**env, pb.ENV_READY_TIMEOUT: "soon"})


def test_only_http_urls_are_requested() -> None:
    with pytest.raises(pb.BootstrapError, match="not an http"):
        pb.http("GET", "file:///etc/passwd")


# -- the recordings are the published API ---------------------------------------------------

#: Required fields and enums of the request schemas, from spec/polaris-management-service.yml.
CATALOG_REQUIRED = {"name", "type", "storageConfigInfo", "properties"}
CATALOG_TYPES = {"INTERNAL", "EXTERNAL"}
STORAGE_TYPES = {"S3", "GCS", "AZURE", "FILE"}
AWS_STORAGE_FIELDS = {"storageType", "allowedLocations", "storageName", "roleArn", "externalId",
                      "userArn", "currentKmsKey", "allowedKmsKeys", "region", "endpoint",
                      "stsEndpoint", "stsUnavailable", "endpointInternal", "pathStyleAccess",
                      "kmsUnavailable"}
GRANT_TYPES = {"catalog", "namespace", "table", "view", "policy"}


def test_recorded_requests_follow_the_management_spec() -> None:
    catalog = exchange("create_catalog")["request"]["json"]["catalog"]
    assert catalog.keys() >= CATALOG_REQUIRED
    assert catalog["type"] in CATALOG_TYPES
    assert "default-base-location" in catalog["properties"]
    assert all(isinstance(v, str) for v in catalog["properties"].values())
    storage = catalog["storageConfigInfo"]
    assert storage["storageType"] in STORAGE_TYPES
    assert storage.keys() <= AWS_STORAGE_FIELDS
    # within an allowed location (CatalogEntity: StorageLocation.isChildOf, slash-terminated)
    assert (catalog["properties"]["default-base-location"] + "/").startswith(
        tuple(storage["allowedLocations"]))
    grant = exchange("grant")["request"]["json"]["grant"]
    assert grant["type"] in GRANT_TYPES
    assert grant["privilege"] == "CATALOG_MANAGE_CONTENT"
    for name in ("create_catalog_role", "assign"):
        assert set(exchange(name)["request"]["json"]) == {"catalogRole"}
        assert exchange(name)["request"]["json"]["catalogRole"]["name"]
    assert exchange("create_catalog")["response"]["status"] == 201
    assert exchange("create_catalog_exists")["response"]["status"] == 409


# -- the Job runs this module ----------------------------------------------------------------

def manifest_docs() -> list[dict[str, Any]]:
    text = (PACKAGED_MANIFESTS / "polaris.yaml").read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def test_configmap_copy_is_this_module() -> None:
    [configmap] = [d for d in manifest_docs() if d["kind"] == "ConfigMap"
                   and d["metadata"]["name"] == "polaris-bootstrap-script"]
    source = Path(pb.__file__).read_text(encoding="utf-8")
    assert configmap["data"]["polaris_bootstrap.py"] == source, (
        "the packaged polaris.yaml carries a stale copy of src/floe_testing/stack/"
        "polaris_bootstrap.py; "
        "run `python tests/manifests/sync_bootstrap_script.py` from the repository root"
    )


def test_module_uses_only_the_standard_library() -> None:
    tree = ast.parse(Path(pb.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_job_runs_the_mounted_copy_with_every_required_variable() -> None:
    docs = manifest_docs()
    [job] = [d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "polaris-bootstrap"]
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [mount] = container["volumeMounts"]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "polaris-bootstrap-script"
    assert container["command"] == ["python", f"{mount['mountPath']}/polaris_bootstrap.py"]
    names = {e["name"] for e in container["env"]}
    assert set(pb.REQUIRED_ENV) <= names, set(pb.REQUIRED_ENV) - names
    assert container["image"].startswith("python:3.12")


# -- Polaris' rules the bootstrap meets -------------------------------------------------------

def test_a_realm_polaris_does_not_serve_is_named_as_such() -> None:
    with RecordedPolaris(["health_up", "token_unknown_realm"]) as polaris, \
            pytest.raises(pb.BootstrapError) as info:
        pb.bootstrap(settings_for(polaris.url), log=lambda _: None, pause=no_pause)
    polaris.assert_all_served()
    message = str(info.value)
    assert "MissingOrInvalidRealm" in message
    assert pb.ENV_REALM in message
    assert f"realm {RECORDED['realm']!r}" in message
    assert pb.ENV_CLIENT_SECRET not in message, "a realm problem, not a credential one"


def overlaps(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Polaris' rule (PolarisAdminService.catalogOverlapsWithExistingCatalog): a catalog's
    base and allowed locations, slash-terminated, must not be a prefix of another's."""
    def locations(catalog: dict[str, Any]) -> set[str]:
        found = [catalog["properties"]["default-base-location"],
                 *catalog["storageConfigInfo"]["allowedLocations"]]
        return {loc if loc.endswith("/") else loc + "/" for loc in found}
    return any(a.startswith(b) or b.startswith(a)
               for a in locations(first) for b in locations(second))


def test_each_catalog_owns_its_prefix_of_the_bucket_alone() -> None:
    def definition(name: str) -> dict[str, Any]:
        return pb.catalog_definition(name, bucket="floe-iceberg", s3_endpoint="http://m:9000",
                                     region="us-east-1")

    stack = definition("test_warehouse")
    assert stack["storageConfigInfo"]["allowedLocations"] == ["s3://floe-iceberg/test_warehouse/"]
    assert stack["properties"]["polaris.config.drop-with-purge.enabled"] == "true"
    assert not overlaps(stack, definition("team_catalog")), "a second catalog fits the bucket"
    assert not overlaps(stack, definition("test_warehouse2")), "a prefix of a name is not one"
    whole_bucket = {**stack, "storageConfigInfo": {"allowedLocations": ["s3://floe-iceberg/"]}}
    assert overlaps(stack, whole_bucket), "the rule itself: a whole-bucket catalog overlaps"


def test_the_realm_is_defined_once_in_the_stack_secret() -> None:
    docs = manifest_docs()
    [secret] = [d for d in docs if d["kind"] == "Secret"]
    realm = secret["stringData"]["POLARIS_REALM"]
    text = (PACKAGED_MANIFESTS / "polaris.yaml").read_text(encoding="utf-8")
    assert text.count(f": {realm}\n") == 1, "the realm's value is written once, in the Secret"
    references = 0
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for var in container.get("env") or []:
                if var["name"] in ("BOOTSTRAP_REALM", pb.ENV_REALM):
                    assert var["valueFrom"]["secretKeyRef"] == {
                        "name": secret["metadata"]["name"], "key": "POLARIS_REALM"}, var
                    references += 1
    assert references == 2, "the server's realm and the bootstrap Job's both come from it"
