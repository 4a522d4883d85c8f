"""Stand-in for the ``apache/polaris`` image where Polaris itself cannot be built.

Polaris publishes no runnable server on Maven Central, and the modules a Quarkus build of it
needs are not served there (see tests/images/README.md). So this image runs Apache Iceberg's
own REST catalog server (``org.apache.iceberg:iceberg-open-api``, the real catalog: tables,
commits, metadata and data files on MinIO through S3FileIO) behind the parts of Polaris' contract
that the stack relies on, and nothing more:

* API port 8181, paths under ``/api/catalog``; management port 8182, ``/q/health/ready``;
* OAuth2 client credentials at ``/api/catalog/v1/oauth/tokens``, checked against
  ``POLARIS_BOOTSTRAP_CREDENTIALS`` (``realm,client_id,client_secret``); every other call needs
  a token this process issued;
* the management calls the bootstrap Job makes (catalog, catalog role, grant, assignment),
  with Polaris' status codes (201, 409 when present, 404 for an unknown catalog or role);
  creating a catalog starts one Iceberg REST server for it, configured from the catalog's
  ``default-base-location`` and storage configuration (``endpointInternal``, path style,
  region) and the server's own S3 keys (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``);
* ``/v1/config?warehouse=<catalog>`` answers with the catalog name as prefix (404 for an unknown
  one), and table loads carry S3 credentials in their ``config`` as Polaris' credential vending
  does (here the server's own keys, not short-lived STS ones).

Stdlib only: it runs on the image's Debian Python.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PORT = 8181
MANAGEMENT_PORT = 8182
FIRST_BACKEND_PORT = 8190
BACKEND_JAR = os.environ.get("ICEBERG_REST_JAR", "/opt/iceberg-rest/iceberg-open-api.jar")
BACKEND_START_TIMEOUT = 90.0
CATALOG_PREFIX = "/api/catalog"
MANAGEMENT_PREFIX = "/api/management/v1"


class Catalog:
    """One catalog: its definition, and the Iceberg REST server that serves it."""

    def __init__(self, definition: dict[str, Any], port: int) -> None:
        self.definition = definition
        self.port = port
        self.roles: dict[str, set[str]] = {}
        props = definition.get("properties") or {}
        storage = definition.get("storageConfigInfo") or {}
        self.s3_config = {
            "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "s3.region": storage.get("region") or os.environ.get("AWS_REGION", "us-east-1"),
            "s3.path-style-access": str(bool(storage.get("pathStyleAccess"))).lower(),
        }
        endpoint = storage.get("endpointInternal") or storage.get("endpoint") or ""
        env = {
            **os.environ,
            "CATALOG_REST_PORT": str(port),
            "CATALOG_WAREHOUSE": props.get("default-base-location", ""),
            "CATALOG_IO__IMPL": "org.apache.iceberg.aws.s3.S3FileIO",
            "CATALOG_S3_ENDPOINT": endpoint,
            "CATALOG_S3_PATH__STYLE__ACCESS": self.s3_config["s3.path-style-access"],
            "CATALOG_S3_ACCESS__KEY__ID": self.s3_config["s3.access-key-id"],
            "CATALOG_S3_SECRET__ACCESS__KEY": self.s3_config["s3.secret-access-key"],
            "CATALOG_CLIENT_REGION": self.s3_config["s3.region"],
            "AWS_REGION": self.s3_config["s3.region"],
            # the server's JDBC catalog is an in-memory SQLite database per connection: with
            # its default pool of 2, concurrent requests (two shards, xdist workers) reach a
            # second, empty database ("Failed to get table"). One connection serialises them.
            "CATALOG_CLIENTS": "1",
        }
        self.process = subprocess.Popen(["java", "-jar", BACKEND_JAR], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.started = threading.Event()
        threading.Thread(target=self._relay_output, daemon=True).start()

    def _relay_output(self) -> None:
        """Echo the server's log (the pod's log) and notice the line Jetty prints once it
        listens; set ``started`` then, or when the server exits."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            sys.stdout.write(line)
            if "Started Server" in line:
                self.started.set()
        self.started.set()  # exited: wait_ready sees it at once

    def wait_ready(self) -> bool:
        """True once the server said it started and answers ``/v1/config``."""
        if not self.started.wait(BACKEND_START_TIMEOUT) or self.process.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/v1/config")
            return conn.getresponse().status == 200
        except OSError:
            return False


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.credentials = _bootstrap_credentials(os.environ.get("POLARIS_BOOTSTRAP_CREDENTIALS",
                                                                 ""))
        self.tokens: set[str] = set()
        self.catalogs: dict[str, Catalog] = {}

    def stop(self) -> None:
        for catalog in self.catalogs.values():
            catalog.process.terminate()


def _bootstrap_credentials(value: str) -> dict[str, str]:
    """client_id -> client_secret of ``realm,client_id,client_secret[;...]``."""
    found = {}
    for entry in value.split(";"):
        parts = [p.strip() for p in entry.split(",")]
        if len(parts) == 3 and all(parts):
            found[parts[1]] = parts[2]
    return found


def _error(code: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, code: int, payload: Any | None = None, raw: bytes | None = None) -> None:
            data = raw if raw is not None else (b"" if payload is None
                                                 else json.dumps(payload).encode())
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer ") and auth[7:] in state.tokens:
                return True
            self._reply(401, _error(401, "NotAuthorizedException", "Unauthorized"))
            return False

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def do_PUT(self) -> None:
            self._route()

        def do_DELETE(self) -> None:
            self._route()

        def do_HEAD(self) -> None:
            self._route()

        def _route(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            body = self._body()
            if self.server.server_port == MANAGEMENT_PORT:  # type: ignore[attr-defined]
                if url.path in ("/q/health/ready", "/q/health/live", "/q/health"):
                    return self._reply(200, {"status": "UP", "checks": []})
                return self._reply(404, _error(404, "NotFoundException", url.path))
            if url.path == f"{CATALOG_PREFIX}/v1/oauth/tokens" and self.command == "POST":
                return self._token(body)
            if not self._authorised():
                return None
            if url.path.startswith(MANAGEMENT_PREFIX + "/"):
                return self._management(url.path[len(MANAGEMENT_PREFIX):], body)
            if url.path == f"{CATALOG_PREFIX}/v1/config":
                return self._config(url.query)
            if url.path.startswith(f"{CATALOG_PREFIX}/v1/"):
                return self._forward(url.path[len(CATALOG_PREFIX):], url.query, body)
            return self._reply(404, _error(404, "NotFoundException", url.path))

        def _token(self, body: bytes) -> None:
            form = urllib.parse.parse_qs(body.decode())
            client = (form.get("client_id") or [""])[0]
            secret = (form.get("client_secret") or [""])[0]
            if not client or state.credentials.get(client) != secret:
                return self._reply(401, {"error": "unauthorized_client",
                                         "error_description": "invalid client credentials"})
            token = secrets.token_urlsafe(24)
            state.tokens.add(token)
            return self._reply(200, {"access_token": token, "token_type": "bearer",
                                     "expires_in": 3600,
                                     "issued_token_type":
                                         "urn:ietf:params:oauth:token-type:access_token"})

        def _config(self, query: str) -> None:
            warehouse = (urllib.parse.parse_qs(query).get("warehouse") or [""])[0]
            catalog = state.catalogs.get(warehouse)
            if catalog is None:
                return self._reply(404, _error(404, "NotFoundException",
                                               f"Unable to find warehouse {warehouse}"))
            status, raw = _request(catalog.port, "GET", "/v1/config", b"", {})
            config = json.loads(raw)
            config.setdefault("overrides", {})["prefix"] = warehouse
            return self._reply(status, config)

        def _forward(self, path: str, query: str, body: bytes) -> None:
            parts = path.split("/")  # ["", "v1", prefix, ...]
            catalog = state.catalogs.get(urllib.parse.unquote(parts[2])) if len(parts) > 2 \
                else None
            if catalog is None:
                return self._reply(404, _error(404, "NotFoundException",
                                               f"no catalog for {path}"))
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("content-type", "accept")}
            # one server per catalog, which serves it without a prefix
            backend_path = "/".join(["", "v1", *parts[3:]])
            status, raw = _request(catalog.port, self.command,
                                   backend_path + (f"?{query}" if query else ""), body, headers)
            if status == 200 and raw and "/tables" in path and self.command in ("GET", "POST"):
                reply = json.loads(raw)
                if isinstance(reply, dict) and "metadata" in reply:
                    reply["config"] = {**(reply.get("config") or {}), **catalog.s3_config}
                    raw = json.dumps(reply).encode()
            return self._reply(status, raw=raw)

        def _management(self, path: str, body: bytes) -> None:
            parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
            payload = json.loads(body) if body else {}
            with state.lock:
                if parts == ["catalogs"] and self.command == "GET":
                    return self._reply(200, {"catalogs": [c.definition
                                                          for c in state.catalogs.values()]})
                if parts == ["catalogs"] and self.command == "POST":
                    return self._create_catalog(payload.get("catalog") or {})
                if len(parts) >= 3 and parts[0] == "catalogs" and parts[2] == "catalog-roles":
                    catalog = state.catalogs.get(parts[1])
                    if catalog is None:
                        return self._reply(404, _error(404, "NotFoundException",
                                                       f"catalog {parts[1]} not found"))
                    if len(parts) == 3 and self.command == "POST":
                        role = (payload.get("catalogRole") or {}).get("name", "")
                        if role in catalog.roles:
                            return self._reply(409, _error(409, "AlreadyExistsException",
                                                           f"catalog role {role} exists"))
                        catalog.roles[role] = set()
                        return self._reply(201, {"name": role})
                    if len(parts) == 5 and parts[4] == "grants" and self.command == "PUT":
                        if parts[3] not in catalog.roles:
                            return self._reply(404, _error(404, "NotFoundException",
                                                           f"catalog role {parts[3]}"))
                        catalog.roles[parts[3]].add(str(payload.get("grant")))
                        return self._reply(201, payload.get("grant"))
                if (len(parts) == 4 and parts[0] == "principal-roles"
                        and parts[2] == "catalog-roles" and self.command == "PUT"):
                    catalog = state.catalogs.get(parts[3])
                    role = (payload.get("catalogRole") or {}).get("name", "")
                    if catalog is None or role not in catalog.roles:
                        return self._reply(404, _error(404, "NotFoundException",
                                                       f"catalog role {role} in {parts[3]}"))
                    return self._reply(201)
            return self._reply(404, _error(404, "NotFoundException", path))

        def _create_catalog(self, definition: dict[str, Any]) -> None:
            name = definition.get("name", "")
            if not name:
                return self._reply(400, _error(400, "BadRequestException", "catalog name"))
            if name in state.catalogs:
                return self._reply(409, _error(409, "AlreadyExistsException",
                                               f"Catalog '{name}' already exists"))
            catalog = Catalog(definition, FIRST_BACKEND_PORT + len(state.catalogs))
            if not catalog.wait_ready():
                catalog.process.terminate()
                return self._reply(503, _error(503, "ServiceUnavailableException",
                                               "the Iceberg REST server did not start"))
            state.catalogs[name] = catalog
            return self._reply(201, definition)

    return Handler


def _request(port: int, method: str, path: str, body: bytes,
             headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def main() -> None:
    state = State()
    handler = make_handler(state)
    servers = [ThreadingHTTPServer(("0.0.0.0", port), handler)
               for port in (API_PORT, MANAGEMENT_PORT)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    print(f"Polaris stand-in: API :{API_PORT}, management :{MANAGEMENT_PORT}, "
          f"{len(state.credentials)} bootstrap principal(s)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        state.stop()
        for server in servers:
            server.shutdown()


if __name__ == "__main__":
    main()
